import Foundation

struct JavaProvider: Provider {
    let name = "java"

    func detect(_ c: Context) -> Bool {
        c.hasAny(["xml", "atom", "clj", "groovy", "rb", "scala", "yaml", "yml"].map { "pom.\($0)" } + ["gradlew"])
    }

    func plan(_ c: Context) -> BuildPlan {
        var jdk = "21"
        if let env = c.railpack("JDK_VERSION") { jdk = Versions.fuzzy(env) }
        if c.has("gradlew") {
            var gradle = "8"
            if let env = c.railpack("GRADLE_VERSION") { gradle = Versions.fuzzy(env) }
            if let props = c.read("gradle/wrapper/gradle-wrapper.properties"),
               let major = Pattern.first(props, #"gradle-([0-9]+)"#) { gradle = major }
            if let major = Int(gradle), major <= 5 { jdk = "8" }
            var build: [String] = []
            if !c.tree.isExecutable("gradlew") { build.append("chmod +x gradlew") }
            build.append("./gradlew clean build -x check -x test -Pproduction")
            let gradleFiles = ["build.gradle", "build.gradle.kts"].compactMap(c.read).joined()
            let port = ["spring-boot", "grails"].contains(where: gradleFiles.contains) ? "-Dserver.port=$PORT" : ""
            return BuildPlan(provider: name, packageManager: "gradle", runtimeVersion: jdk, build: build,
                             start: "java $JAVA_OPTS -jar \(port) $(ls -1 */build/libs/*jar | grep -v plain)",
                             tools: ["java": jdk, "gradle": gradle], caches: ["/root/.gradle"])
        }
        let exe = c.has("mvnw") && c.has(".mvn/wrapper/maven-wrapper.properties") ? "./mvnw" : "mvn"
        let pom = c.read("pom.xml") ?? ""
        let port = pom.contains("spring-boot") ? "-Dserver.port=$PORT" : pom.contains("wildfly-swarm") || pom.contains("thorntail") ? "-Dswarm.http.port=$PORT" : ""
        return BuildPlan(provider: name, packageManager: "maven", runtimeVersion: jdk,
                         build: ["\(exe) -DoutputFile=target/mvn-dependency-list.log -B -DskipTests clean dependency:list install -Pproduction"],
                         start: "java \(port) $JAVA_OPTS -jar target/*jar",
                         tools: ["java": jdk, "maven": "latest"], caches: ["/root/.m2"])
    }
}

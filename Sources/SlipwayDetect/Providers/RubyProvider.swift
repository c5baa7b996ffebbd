import Foundation

struct RubyProvider: Provider {
    let name = "ruby"

    func detect(_ c: Context) -> Bool { c.has("Gemfile") }

    func plan(_ c: Context) -> BuildPlan {
        let gemfile = c.read("Gemfile") ?? ""
        let lock = c.read("Gemfile.lock") ?? ""
        var version = "3.4"
        if let v = Pattern.first(lock, #"RUBY VERSION\s+ruby ([0-9]+\.[0-9]+\.[0-9]+)"#) { version = v }
        if let mise = c.miseVersion("ruby") { version = mise }
        if let env = c.railpack("RUBY_VERSION") { version = Versions.fuzzy(env) }

        let bundler = Pattern.first(lock, #"BUNDLED WITH\s+([0-9][0-9.]*)"#)
        let gems = gemfile + lock
        let bootsnap = gems.contains("bootsnap")
        var install = ["gem install -N bundler\(bundler.map { ":\($0)" } ?? "")", "bundle install"]
        if bootsnap { install.append("bundle exec bootsnap precompile --gemfile") }

        let rails = c.read("config/application.rb")?.contains("Rails::Application") == true
        var build: [String] = []
        if rails, gems.contains("sprockets") || gems.contains("propshaft") { build.append("bundle exec rake assets:precompile") }
        if rails, bootsnap { build.append("bundle exec bootsnap precompile app/ lib/") }

        let port = "${PORT:-3000}"
        var start: String?
        if rails {
            start = c.has("rails") ? "bundle exec rails server -b 0.0.0.0 -p \(port)"
                : "bundle exec bin/rails server -b 0.0.0.0 -p \(port) -e $RAILS_ENV"
        } else if c.has("config/environment.rb"), c.has("script") {
            start = "bundle exec ruby script/server -b 0.0.0.0 -p \(port)"
        } else if c.has("config.ru") {
            start = "bundle exec rackup config.ru -o 0.0.0.0 -p \(port)"
        } else if c.has("Rakefile") {
            start = "bundle exec rake"
        }
        var tools = ["ruby": version]
        if let node = NodeProvider.companion(c) {
            install += node.install
            build += node.build
            tools.merge(node.tools) { a, _ in a }
        } else if gems.contains("execjs") {
            tools["node"] = "lts"
        }
        return BuildPlan(provider: name, packageManager: "bundler", runtimeVersion: version, install: install, build: build,
                         start: start, tools: tools, installFiles: ["Gemfile", "Gemfile.lock"].filter(c.has),
                         variables: ["BUNDLE_GEMFILE": "/app/Gemfile", "GEM_PATH": "/usr/local/bundle", "GEM_HOME": "/usr/local/bundle",
                                     "MALLOC_ARENA_MAX": "2"],
                         caches: ["/usr/local/bundle/cache"])
    }
}

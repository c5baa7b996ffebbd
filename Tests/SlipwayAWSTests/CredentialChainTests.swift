import SlipwayAWS
import Testing

@Suite struct CredentialChainTests {
    static let credentialsFile = """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = secret-default

        [deploy]
        aws_access_key_id=AKIADEPLOY
        aws_secret_access_key=secret-deploy
        aws_session_token = token-deploy
        """
    static let configFile = """
        [default]
        region = eu-west-1
        # a comment
        [profile deploy]
        region = us-east-2
        [profile keyless]
        region = ap-south-1
        """

    func resolve(_ env: [String: String], credentials: String? = credentialsFile, config: String? = configFile) throws -> AWSSettings {
        try AWSSettings.resolve(environment: env, home: "/home/me") { path in
            switch path {
            case "/home/me/.aws/credentials", "/etc/creds": credentials
            case "/home/me/.aws/config": config
            default: nil
            }
        }
    }

    @Test func environmentKeysComeFirst() throws {
        let s = try resolve(["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t", "AWS_PROFILE": "deploy"])
        #expect(s.credentials == .environment(.init(accessKeyID: "AKIAENV", secretAccessKey: "s", sessionToken: "t")))
        #expect(s.region == "us-east-2")   // the profile still gives the region
    }

    @Test func aProfileFromTheSharedFiles() throws {
        let s = try resolve(["AWS_PROFILE": "deploy"])
        #expect(s.credentials == .profile(name: "deploy", .init(accessKeyID: "AKIADEPLOY", secretAccessKey: "secret-deploy", sessionToken: "token-deploy")))
        #expect(s.region == "us-east-2")
        let d = try resolve([:])
        #expect(d.credentials == .profile(name: "default", .init(accessKeyID: "AKIADEFAULT", secretAccessKey: "secret-default")))
        #expect(d.region == "eu-west-1")
        #expect(try resolve(["AWS_REGION": "us-west-2"]).region == "us-west-2")
        #expect(try resolve(["AWS_SHARED_CREDENTIALS_FILE": "/etc/creds", "AWS_PROFILE": "deploy"]).credentials.description == "profile deploy")
    }

    @Test func webIdentityBeatsProfilesAndContainersBeatInstanceMetadata() throws {
        let w = try resolve(["AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/slipway"])
        #expect(w.credentials == .webIdentity(tokenFile: "/var/run/token", roleARN: "arn:aws:iam::123456789012:role/slipway", sessionName: "slipway"))
        let c = try resolve(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"], credentials: nil, config: nil)
        #expect(c.credentials == .container(url: "http://169.254.170.2/v2/credentials/abc", authorization: nil, authorizationFile: nil))
        let f = try resolve(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9911/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/t"],
                            credentials: nil, config: nil)
        #expect(f.credentials == .container(url: "http://127.0.0.1:9911/creds", authorization: nil, authorizationFile: "/t"))
        #expect(try resolve([:], credentials: nil, config: nil).credentials == .instanceMetadata)
        // A profile that only sets a region does not hide the container's role.
        let k = try resolve(["AWS_PROFILE": "keyless", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x"])
        #expect(k.credentials.description == "container credentials (http://169.254.170.2/v2/x)")
        #expect(k.region == "ap-south-1")
    }

    @Test func mistakesSayWhatToDo() {
        #expect(throws: AWSSettings.Problem.self) { try resolve(["AWS_ACCESS_KEY_ID": "AKIA"]) }
        #expect(throws: AWSSettings.Problem.self) { try resolve(["AWS_PROFILE": "nope"]) }
        #expect(throws: AWSSettings.Problem.self) { try resolve(["AWS_EC2_METADATA_DISABLED": "true"], credentials: nil, config: nil) }
    }

    @Test func endpoints() {
        #expect(AWSEndpoint.url(.ecs, region: "eu-west-1", environment: [:]) == "https://ecs.eu-west-1.amazonaws.com")
        #expect(AWSEndpoint.url(.ecr, region: "cn-north-1", environment: [:]) == "https://api.ecr.cn-north-1.amazonaws.com.cn")
        let moto = ["AWS_ENDPOINT_URL": "http://127.0.0.1:5001", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": "http://127.0.0.1:5002"]
        #expect(AWSEndpoint.url(.ecs, region: "us-east-1", environment: moto) == "http://127.0.0.1:5001")
        #expect(AWSEndpoint.url(.logs, region: "us-east-1", environment: moto) == "http://127.0.0.1:5002")
    }
}

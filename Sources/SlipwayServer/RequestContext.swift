import Hummingbird
import Logging
import NIOCore

/// The context every Slipway route gets: Hummingbird's core, and room for what the API
/// will learn about its caller (the token's name and role) without changing any route.
public struct SlipwayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
    }
}

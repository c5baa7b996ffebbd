import SlipwayCore
import SlipwaySystem

/// The paths of a checkout a build reads (`build.context`, the Dockerfile, the ignore
/// files), checked before anything reads them: a repository may link any of them to a
/// server file, and neither the builder nor the Docker CLI would notice.
struct CheckoutPaths {
    let checkout: Confinement
    let context: String

    init(checkout: String, context: String) {
        self.checkout = Confinement(root: checkout)
        self.context = context
    }

    private func inContext(_ path: String) -> String { context == "." ? path : "\(context)/\(path)" }

    /// Why the build cannot read what it needs from this checkout; nil when it can.
    func problem(dockerfile: String?) -> String? {
        var paths = [(context == "." ? "" : context, "build.context")]
        if let dockerfile {
            paths.append((inContext(dockerfile), "the Dockerfile"))
            paths.append((inContext(dockerfile + ".dockerignore"), "the Dockerfile's ignore file"))
        }
        paths.append((inContext(".dockerignore"), ".dockerignore"))
        for (path, what) in paths where checkout.place(path) == .outside {
            return "\(what) `\(Terminal.printable(path.isEmpty ? "." : path, limit: 200))` is a symbolic link that leads outside the repository; "
                + "Slipway reads nothing outside the checkout: replace the link with the file itself"
        }
        return nil
    }
}

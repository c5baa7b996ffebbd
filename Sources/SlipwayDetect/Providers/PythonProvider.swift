import Foundation

struct PythonProvider: Provider {
    let name = "python"
    static let mains = ["main.py", "app.py", "start.py", "bot.py", "hello.py", "server.py"]

    func detect(_ c: Context) -> Bool {
        c.hasAny(Self.mains + ["requirements.txt", "pyproject.toml", "Pipfile"])
    }

    func plan(_ c: Context) -> BuildPlan {
        var version = "3.13"
        if let pipfile = c.read("Pipfile") {
            if let v = TOML.value(in: pipfile, section: "requires", key: "python_version") { version = v }
            if let v = TOML.value(in: pipfile, section: "requires", key: "python_full_version") { version = v }
        }
        if let runtime = c.read("runtime.txt")?.trimmingCharacters(in: .whitespacesAndNewlines), !runtime.isEmpty {
            version = runtime.hasPrefix("python-") ? String(runtime.dropFirst(7)) : runtime
        }
        if let mise = c.miseVersion("python") { version = mise }
        if let env = c.railpack("PYTHON_VERSION") { version = Versions.fuzzy(env) }

        var manager = "pip"
        var install: [String] = []
        var build: [String] = []
        var files: [String] = []
        let pyproject = c.has("pyproject.toml")
        if c.has("requirements.txt") {
            install = ["python -m venv /app/.venv", "pip install -r requirements.txt"]
            files = ["requirements.txt"]
        } else if pyproject, c.has("uv.lock") {
            manager = "uv"
            install = ["uv sync --locked --no-dev --no-install-project"]
            build = ["uv sync --locked --no-dev --no-editable"]
            files = ["pyproject.toml", "uv.lock"]
        } else if pyproject, c.has("poetry.lock") {
            manager = "poetry"
            install = ["poetry install --no-interaction --no-ansi --only main --no-root"]
            files = ["pyproject.toml", "poetry.lock"]
        } else if pyproject, c.has("pdm.lock") {
            manager = "pdm"
            install = ["pdm install --check --prod --no-editable"]
            files = ["pyproject.toml", "pdm.lock"]
        } else if c.has("Pipfile") {
            manager = "pipenv"
            install = [c.has("Pipfile.lock") ? "pipenv install --deploy --ignore-pipfile" : "pipenv install --skip-lock"]
            files = ["Pipfile", "Pipfile.lock"].filter(c.has)
        }

        return BuildPlan(provider: name, packageManager: manager, runtimeVersion: version, install: install, build: build,
                         start: start(c),
                         tools: ["python": version, manager: manager == "pip" ? "" : "latest"].filter { !$0.value.isEmpty },
                         setup: manager == "pip" ? [] : ["pip install \(manager)"],
                         installFiles: files.isEmpty ? ["."] : files,
                         variables: ["PYTHONFAULTHANDLER": "1", "PYTHONUNBUFFERED": "1", "PYTHONHASHSEED": "random",
                                     "PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_DEFAULT_TIMEOUT": "100",
                                     "VIRTUAL_ENV": "/app/.venv", "UV_PROJECT_ENVIRONMENT": "/app/.venv"],
                         paths: ["/app/.venv/bin"],
                         caches: ["/root/.cache/pip", "/root/.cache/uv"])
    }

    static let frameworks = ["django", "python-fasthtml", "fastapi", "uvicorn", "flask", "gunicorn"]

    /// The frameworks the dependency files mention (`contains`, as the rules ask).
    struct DependencyNames {
        let names: Set<String>
        init(_ names: Set<String>) { self.names = names }
        func contains(_ name: String) -> Bool { names.contains(name) }
    }

    /// The rules run in order and a later match overwrites an earlier one.
    func start(_ c: Context) -> String? {
        // Which frameworks the dependency files name, read one file at a time (never all at once).
        var named = Set<String>()
        for path in c.tree.allFiles() where ["requirements.txt", "pyproject.toml", "Pipfile"].contains(where: { path == $0 || path.hasSuffix("/" + $0) }) {
            guard let text = c.read(path)?.lowercased() else { continue }
            named.formUnion(Self.frameworks.filter(text.contains))
        }
        let deps = DependencyNames(named)
        let main = Self.mains.first(where: c.has)
        let port = "${PORT:-8000}"
        var start: String?
        if c.has("manage.py"), deps.contains("django") {
            let module = c.railpack("DJANGO_APP_NAME") ?? wsgiModule(c) ?? "app.wsgi"
            start = "python manage.py migrate && gunicorn --bind 0.0.0.0:\(port) \(module):application"
        }
        for framework in ["python-fasthtml", "fastapi"] where deps.contains(framework) && main != nil && deps.contains("uvicorn") {
            start = "uvicorn main:app --host 0.0.0.0 --port \(port)"
        }
        if deps.contains("flask"), main != nil, deps.contains("gunicorn") {
            start = "gunicorn --bind 0.0.0.0:\(port) main:app"
        }
        if start == nil, let main { start = "python \(main)" }
        return start
    }

    /// `WSGI_APPLICATION = 'mysite.wsgi.application'` → `mysite.wsgi`.
    func wsgiModule(_ c: Context) -> String? {
        for file in c.tree.allFiles() where file.hasSuffix(".py") {
            guard let text = c.read(file), let value = Pattern.first(text, #"WSGI_APPLICATION\s*=\s*['"]([^'"]+)['"]"#) else { continue }
            return value.hasSuffix(".application") ? String(value.dropLast(".application".count)) : value
        }
        return nil
    }
}

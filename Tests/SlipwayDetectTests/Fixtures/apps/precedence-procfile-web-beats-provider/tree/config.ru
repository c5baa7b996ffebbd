run ->(env) { [200, {}, ["Hello"]] }

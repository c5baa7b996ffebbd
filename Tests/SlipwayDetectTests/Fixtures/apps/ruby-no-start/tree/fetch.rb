require "httparty"
puts HTTParty.get("https://example.com").code

import requests

if __name__ == "__main__":
    print(requests.get("https://example.com").status_code)

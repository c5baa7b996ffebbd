#!/usr/bin/env python3
"""The dashboard in a real browser (headless Chromium through chromium-driver and selenium).

Run by DashboardBrowserTests with: SLIPWAY_URL, VIEWER_TOKEN, DEPLOYER_TOKEN, SERVICE,
BUILDING (a deployment id that is building and printing `slow-line-N` lines), LAST_LINE (the
line that ends its build), SCREENSHOTS (a folder for the pages' screenshots).
Exit 0 when every check held; otherwise the first failure on stderr.
"""
import os, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

url = os.environ["SLIPWAY_URL"].rstrip("/")
service, building, last_line = os.environ["SERVICE"], os.environ["BUILDING"], os.environ["LAST_LINE"]
shots = os.environ["SCREENSHOTS"]
os.makedirs(shots, exist_ok=True)


def browser(width=1280):
    options = Options()
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def sign_in(driver, token):
    driver.get(url + "/login")
    field = driver.find_element(By.ID, "token")
    field.send_keys(token)
    field.submit()
    WebDriverWait(driver, 20).until(EC.presence_of_element_located((By.CSS_SELECTOR, "table.services")))


def check(condition, message):
    if not condition:
        print("FAIL " + message, file=sys.stderr)
        sys.exit(1)


viewer = browser()
try:
    sign_in(viewer, os.environ["VIEWER_TOKEN"])
    check(service in viewer.find_element(By.CSS_SELECTOR, "table.services").text, "the services page lists " + service)
    viewer.save_screenshot(f"{shots}/services-viewer.png")

    # A deployment while it builds: new lines arrive without a reload.
    viewer.get(f"{url}/deployments/{building}")
    log = viewer.find_element(By.ID, "log")
    first = log.text
    check(last_line not in first, "the build had not finished when its page opened: " + first[-200:])
    marker = viewer.execute_script("document.body.setAttribute('data-loaded-once', 'yes'); return document.body.getAttribute('data-loaded-once')")
    try:
        WebDriverWait(viewer, 120).until(lambda d: last_line in d.find_element(By.ID, "log").text)
    except Exception:
        viewer.save_screenshot(f"{shots}/deployment-stalled.png")
        print("browser console: " + repr(viewer.get_log("browser")), file=sys.stderr)
        print("log text: " + viewer.find_element(By.ID, "log").text[-500:], file=sys.stderr)
        raise
    check(viewer.execute_script("return document.body.getAttribute('data-loaded-once')") == marker, "the page was not reloaded")
    check(len(viewer.find_element(By.ID, "log").text) > len(first), "new lines were added")
    WebDriverWait(viewer, 120).until(lambda d: d.find_element(By.ID, "state").get_attribute("data-final") == "true")
    viewer.save_screenshot(f"{shots}/deployment-live-log.png")

    viewer.get(f"{url}/services/{service}")
    check(not viewer.find_elements(By.ID, "rollback"), "a viewer sees no rollback button")
    check(not viewer.find_elements(By.XPATH, "//button[normalize-space()='Deploy']"), "a viewer sees no deploy button")
    viewer.save_screenshot(f"{shots}/service-viewer.png")
finally:
    viewer.quit()

# A phone-width deployer rolls back and sees the rollback's timeline reach its end.
deployer = browser(width=390)
try:
    sign_in(deployer, os.environ["DEPLOYER_TOKEN"])
    deployer.get(f"{url}/services/{service}")
    button = WebDriverWait(deployer, 20).until(EC.element_to_be_clickable((By.ID, "rollback")))
    deployer.save_screenshot(f"{shots}/service-deployer-phone.png")
    button.click()
    WebDriverWait(deployer, 20).until(lambda d: "/deployments/" in d.current_url)
    WebDriverWait(deployer, 180).until(lambda d: d.find_element(By.ID, "state").get_attribute("data-final") == "true")
    deployer.refresh()
    timeline = deployer.find_element(By.CSS_SELECTOR, ".timeline").text
    check("rollback" in deployer.find_element(By.TAG_NAME, "main").text, "the page says it is a rollback")
    # The rollback's own timeline: queued, live, then steady (its watch passed) or rolled back.
    check(timeline.strip().split("\n")[-1].startswith(("steady", "rolled back")), "the timeline ends: " + timeline)
    deployer.save_screenshot(f"{shots}/rollback-deployer.png")
finally:
    deployer.quit()
print("dashboard browser checks passed; screenshots in " + shots)

package handlers

func Hello() string { return "hi" }

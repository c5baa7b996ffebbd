package com.example.demo;

public class DemoApplication {
    public static void main(String[] args) {}
}

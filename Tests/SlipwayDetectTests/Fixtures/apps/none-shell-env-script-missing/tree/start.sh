#!/bin/bash
echo "hi"

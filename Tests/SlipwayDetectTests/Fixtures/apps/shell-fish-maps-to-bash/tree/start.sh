#!/usr/bin/env fish
echo "hello from fish"

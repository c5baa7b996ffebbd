#!/usr/bin/env zsh
echo "hello from zsh"

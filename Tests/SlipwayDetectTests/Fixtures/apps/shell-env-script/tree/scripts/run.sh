#!/bin/bash
echo "running"

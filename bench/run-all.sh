#!/bin/bash
# Every benchmark behind docs/benchmarks.md's whole-model, serving and tokenizer tables, in the order they were run
# (~20 minutes on the 2-core VM; run it with the machine otherwise idle). Expects the random models in .models/
# (`qwensharp random-model`, see docs/benchmarks.md).
set -e
cd "$(dirname "$0")/.."
dotnet build -c Release bench/QwenSharp.Bench -v q -nologo
B=bench/QwenSharp.Bench/bin/Release/net10.0/QwenSharp.Bench
date -u
for m in q8_0 q4_0 f16; do
  extra=""; [ $m = q8_0 ] && extra="-b 8"
  echo "### 0.5B $m"; $B versus -m .models/qwen2-0.5b-$m.gguf -p 512 -n 128 -t 2 -r 3 $extra; date -u
done
echo "### serve"; $B serve -m .models/qwen2-0.5b-q8_0.gguf -c 1,4,8,16 -n 64 -t 2; date -u
echo "### 7B q4_0"; $B versus -m .models/qwen2-7b-q4_0.gguf -p 512 -n 128 -t 2 -r 3; date -u
echo "### 7B q8_0"; $B versus -m .models/qwen2-7b-q8_0.gguf -p 512 -n 128 -t 2 -r 3; date -u
echo "### tokenizer"; $B tokenizer --mb 10 --rounds 3; date -u

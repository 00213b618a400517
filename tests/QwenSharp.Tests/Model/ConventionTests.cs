using System.Runtime.InteropServices;
using QwenSharp.Model;
using QwenSharp.Tensors;
using QwenSharp.Tests.Oracles;

namespace QwenSharp.Tests.Model;

/// <summary>
/// Qwen2 GGUF files keep Q and K in Hugging Face row order and llama.cpp rotates them NEOX style (pair i with
/// i + head_dim/2). A model read with LLaMA's convention instead (rows permuted into interleaved pairs, as
/// convert_hf_to_gguf does for LLaMA) must fail the fidelity bound by far: this proves the fidelity test
/// would catch a wrong convention.
/// </summary>
public class ConventionTests
{
    [Fact]
    public void LlamaPermutedQueryAndKeyRowsAreCaught()
    {
        string path = TinyModels.Gguf("odd", GgmlType.F32);
        var (weights, config) = ModelFiles.Open(path);
        // The model owns (and disposes) the permuted source, which owns the file.
        using var wrong = new Qwen2Model(new LlamaPermutedSource(weights, config), config);
        var tokens = TinyModels.Tokens(64, config.VocabSize);
        float[][] reference;
        using (var llama = new LlamaCpp(path, contextSize: 128))
            reference = llama.Logits(tokens);

        var (diff, scale) = TinyModels.Compare(TinyModels.Logits(wrong, tokens), reference);
        Assert.True(diff > 100 * 1e-4 * scale, $"a LLaMA-permuted model differs by only {diff / scale:E2} relative");
    }

    /// <summary>Serves q_proj/k_proj weights and biases with LLaMA's permutation applied (F32 tensors only).</summary>
    private sealed unsafe class LlamaPermutedSource : IWeightSource
    {
        private readonly IWeightSource _inner;
        private readonly Dictionary<string, TensorView> _replaced = new();
        private readonly List<IntPtr> _memory = new();

        public LlamaPermutedSource(IWeightSource inner, Qwen2Config config)
        {
            _inner = inner;
            foreach (var name in inner.TensorNames)
            {
                int heads = name.Contains("q_proj") ? config.NumAttentionHeads : name.Contains("k_proj") ? config.NumKeyValueHeads : 0;
                if (heads == 0) continue;
                var t = inner.Get(name);
                Assert.Equal(GgmlType.F32, t.Type);
                long rowFloats = t.Shape.Length == 2 ? t.Shape[1] : 1;
                var mem = (float*)NativeMemory.Alloc((nuint)t.ByteLength);
                _memory.Add((IntPtr)mem);
                var src = (float*)t.Pointer;
                int hd = config.HeadDim, half = hd / 2;
                // LLaMA's permute: reshape(heads, 2, hd/2, cols).swapaxes(1, 2): old row j·hd/2 + i → new row 2i + j.
                for (int h = 0; h < heads; h++)
                    for (int i = 0; i < half; i++)
                        for (int j = 0; j < 2; j++)
                        {
                            long from = h * hd + j * half + i, to = h * hd + 2 * i + j;
                            Buffer.MemoryCopy(src + from * rowFloats, mem + to * rowFloats, rowFloats * 4, rowFloats * 4);
                        }
                _replaced[name] = new TensorView(name, t.Type, t.Shape, (byte*)mem, t.ByteLength);
            }
        }

        public string Origin => _inner.Origin + " (LLaMA-permuted Q/K)";
        public IReadOnlyCollection<string> TensorNames => _inner.TensorNames;
        public bool Contains(string name) => _inner.Contains(name);
        public TensorView Get(string name) => _replaced.TryGetValue(name, out var t) ? t : _inner.Get(name);

        public void Dispose()
        {
            foreach (var p in _memory) NativeMemory.Free((void*)p);
            _inner.Dispose();
        }
    }
}

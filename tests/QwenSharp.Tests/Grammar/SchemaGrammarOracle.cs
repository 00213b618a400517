using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using QwenSharp.Tests.Clients;

namespace QwenSharp.Tests.Grammar;

/// <summary>
/// llama.cpp's own GBNF parser and grammar sampler (through the libllama LLamaSharp 0.30.0 loads) as the reference
/// for the grammars the front ends write, over the random-weight Qwen2 model with the real tokenizer
/// (<see cref="ChatTestModel"/>). The sampler is called directly so that a grammar llama.cpp cannot parse is a
/// null sampler here (LLamaSharp's AddGrammar would add it to a chain unchecked), and so that no token is ever
/// accepted without being applied first (llama.cpp aborts on a token its grammar rejects).
/// </summary>
internal sealed unsafe class LlamaGrammarOracle : IDisposable
{
    private static readonly Lazy<LlamaGrammarOracle> SharedInstance = new(() => new LlamaGrammarOracle());
    private static IntPtr _library;

    public static LlamaGrammarOracle Shared => SharedInstance.Value;

    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly IntPtr _vocab;
    private readonly int _vocabSize;
    private readonly byte[][] _pieces;
    private readonly bool[] _eog;
    private readonly float[] _bias;
    private readonly int[] _byteToken = new int[256];
    private readonly int[][] _byFirstByte;
    private readonly int _endToken;
    private readonly object _gate = new();

    private LlamaGrammarOracle()
    {
        NativeLogConfig.llama_log_set((level, message) => { });
        var p = new ModelParams(ModelPath())
        {
            ContextSize = 512, BatchSize = 512, UBatchSize = 512, GpuLayerCount = 0, Threads = 1, BatchThreads = 1,
        };
        _weights = LLamaWeights.LoadFromFile(p);
        _context = _weights.CreateContext(p);
        lock (typeof(LlamaGrammarOracle))
        {
            if (_library == IntPtr.Zero)
            {
                // The handle LLamaSharp's resolver loaded, so both assemblies call the same libllama.
                var field = typeof(NativeApi).GetField("_loadedLlamaHandle", BindingFlags.NonPublic | BindingFlags.Static)
                    ?? throw new InvalidOperationException("LLamaSharp's native handle field moved.");
                _library = (IntPtr)field.GetValue(null)!;
                NativeLibrary.SetDllImportResolver(typeof(LlamaGrammarOracle).Assembly,
                    (name, _, _) => name == "llama" ? _library : IntPtr.Zero);
            }
        }
        _vocab = llama_model_get_vocab(_weights.NativeHandle.DangerousGetHandle());
        _vocabSize = _weights.Vocab.Count;
        _pieces = new byte[_vocabSize][];
        _eog = new bool[_vocabSize];
        _bias = new float[_vocabSize];
        Array.Fill(_byteToken, -1);
        var buffer = new byte[256];
        for (int t = 0; t < _vocabSize; t++)
        {
            int n;
            fixed (byte* b = buffer) n = llama_token_to_piece(_vocab, t, b, buffer.Length, 0, false);
            _pieces[t] = n > 0 ? buffer.AsSpan(0, n).ToArray() : [];
            _eog[t] = llama_vocab_is_eog(_vocab, t);
            if (_pieces[t].Length == 1 && _byteToken[_pieces[t][0]] < 0) _byteToken[_pieces[t][0]] = t;
            // Favour tokens that close strings and containers, so that random weights end documents within the cap.
            if (_pieces[t].AsSpan().IndexOfAny("\"]}"u8) >= 0) _bias[t] = 6f;
        }
        var groups = Enumerable.Range(0, 256).Select(_ => new List<int>()).ToArray();
        for (int t = 0; t < _vocabSize; t++)
            if (!_eog[t] && _pieces[t].Length > 0) groups[_pieces[t][0]].Add(t);
        _byFirstByte = groups.Select(g => g.ToArray()).ToArray();
        _endToken = ChatTestModel.ImEnd;
        if (!_eog[_endToken]) throw new InvalidOperationException("<|im_end|> is not an end token in llama.cpp's vocabulary.");
    }

    /// <summary>
    /// A one-layer random Qwen2 in Q8_0 with the real tokenizer (the vocabulary is what matters to a grammar; the
    /// small output matrix keeps a decode step cheap), written once into the temp folder.
    /// </summary>
    private static string ModelPath()
    {
        string path = Path.Combine(Path.GetTempPath(), "qwensharp-grammar-h64-l1-q8-s13-v1.gguf");
        if (File.Exists(path)) return path;
        var config = ChatTestModel.Config with { NumHiddenLayers = 1, Origin = "grammar-test" };
        string temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        QwenSharp.Model.RandomModel.WriteGguf(config, temporary, QwenSharp.Tensors.GgmlType.Q8_0, 13,
            QwenSharp.Formats.GgufTokenizerExport.FromHuggingFace(Fixtures.TokenizerFolder, config.VocabSize, ChatTestModel.ImEnd, ChatTestModel.EndOfText));
        try
        {
            File.Move(temporary, path);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
        }
        return path;
    }

    /// <summary>Whether llama.cpp parses <paramref name="gbnf"/> (with rule <paramref name="root"/> present).</summary>
    public bool Parses(string gbnf, string root = "root")
    {
        lock (_gate)
        {
            var sampler = llama_sampler_init_grammar(_vocab, gbnf, root);
            if (sampler == IntPtr.Zero) return false;
            llama_sampler_free(sampler);
            return true;
        }
    }

    /// <summary>Whether the grammar derives exactly <paramref name="text"/> (fed byte by byte, then the end).</summary>
    public bool Derives(string gbnf, string text, string root = "root")
    {
        lock (_gate)
        {
            var sampler = Init(gbnf, root);
            try
            {
                foreach (byte b in Encoding.UTF8.GetBytes(text))
                {
                    int token = _byteToken[b];
                    if (token < 0) throw new InvalidOperationException($"No single-byte token for 0x{b:X2}.");
                    if (!Allowed(sampler, token)) return false;
                    llama_sampler_accept(sampler, token);
                }
                return Allowed(sampler, _endToken);
            }
            finally
            {
                llama_sampler_free(sampler);
            }
        }
    }

    /// <summary>
    /// Text drawn from the model under the grammar at temperature 1 (plus the closing-token bias): each token a
    /// draw from the softmax restricted to the tokens llama.cpp's grammar allows. Null when <paramref name="maxTokens"/> ran out first.
    /// </summary>
    /// <param name="endBias">Added to the end token's logit, for grammars (regex, Lark) with no closing token to favour.</param>
    public string? Generate(string gbnf, int seed, int maxTokens, string root = "root", float endBias = 0f)
    {
        lock (_gate)
        {
            var sampler = Init(gbnf, root);
            try
            {
                var rng = new Random(seed);
                var bytes = new List<byte>();
                _context.NativeHandle.MemoryClear(true);
                var batch = new LLamaBatch();
                batch.Add((LLamaToken)ChatTestModel.EndOfText, 0, LLamaSeqId.Zero, true);
                for (int pos = 1; pos <= maxTokens; pos++)
                {
                    if (_context.NativeHandle.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed.");
                    _bias[_endToken] = endBias;
                    int token = Choose(sampler, _context.NativeHandle.GetLogitsIth(batch.TokenCount - 1), rng);
                    if (_eog[token]) return Encoding.UTF8.GetString(bytes.ToArray());
                    llama_sampler_accept(sampler, token);
                    bytes.AddRange(_pieces[token]);
                    batch.Clear();
                    batch.Add((LLamaToken)token, pos, LLamaSeqId.Zero, true);
                }
                return null;
            }
            finally
            {
                llama_sampler_free(sampler);
            }
        }
    }

    /// <summary>Counters of the runs so far (steps, and how many needed the allowed set computed).</summary>
    public static long Steps, Widened;

    // A draw from the softmax (temperature 1, plus the bias) over the tokens the grammar allows. A token is allowed
    // only if its first bytes are (llama.cpp's grammar takes partial UTF-8 too), so tokens are narrowed by byte
    // probes first; the draw over the narrowed set, restricted to the allowed tokens, is the same distribution.
    private int Choose(IntPtr sampler, ReadOnlySpan<float> logits, Random rng)
    {
        Steps++;
        var candidates = Candidates(sampler);
        if (candidates.Count == 0) throw new InvalidOperationException("The grammar allows no token (llama.cpp's sampler left every logit at -inf).");
        // Rejection sampling from the softmax over the candidates is exact for the softmax over the allowed tokens;
        // when the allowed mass is small, the allowed set is computed instead and sampled directly.
        var cumulative = new double[candidates.Count];
        double total = 0, max = double.NegativeInfinity;
        foreach (int t in candidates) max = Math.Max(max, logits[t] + _bias[t]);
        for (int i = 0; i < candidates.Count; i++)
        {
            total += Math.Exp(logits[candidates[i]] + _bias[candidates[i]] - max);
            cumulative[i] = total;
        }
        for (int attempt = 0; attempt < 24; attempt++)
        {
            int index = Array.BinarySearch(cumulative, rng.NextDouble() * total);
            int t = candidates[Math.Min(index < 0 ? ~index : index, candidates.Count - 1)];
            if (Allowed(sampler, t)) return t;
        }
        Widened++;
        var allowed = AllowedOf(sampler, candidates.ToArray());
        if (allowed.Count == 0) throw new InvalidOperationException("The grammar allows no token (llama.cpp's sampler left every logit at -inf).");
        var weights = new double[allowed.Count];
        for (int i = 0; i < weights.Length; i++) weights[i] = Math.Exp(logits[allowed[i]] + _bias[allowed[i]] - max);
        double r = rng.NextDouble() * weights.Sum();
        for (int i = 0; i < allowed.Count; i++)
        {
            r -= weights[i];
            if (r <= 0) return allowed[i];
        }
        return allowed[^1];
    }

    /// <summary>
    /// A superset of the allowed tokens: those whose first byte the grammar allows, and for large first-byte groups
    /// also whose second byte it allows after that first byte (probed on a clone of the grammar state).
    /// </summary>
    private List<int> Candidates(IntPtr sampler)
    {
        var probes = new int[257];
        for (int b = 0; b < 256; b++) probes[b] = _byteToken[b];
        probes[256] = _endToken;
        var candidates = new List<int>();
        foreach (int first in AllowedOf(sampler, probes))
        {
            if (first == _endToken) { candidates.Add(first); continue; }
            var group = _byFirstByte[_pieces[first][0]];
            if (group.Length <= 512) { candidates.AddRange(group); continue; }
            var clone = llama_sampler_clone(sampler);
            try
            {
                llama_sampler_accept(clone, first);
                var second = new bool[256];
                foreach (int t in AllowedOf(clone, probes[..256])) second[_pieces[t][0]] = true;
                foreach (int t in group)
                    if (_pieces[t].Length == 1 || second[_pieces[t][1]]) candidates.Add(t);
            }
            finally
            {
                llama_sampler_free(clone);
            }
        }
        return candidates;
    }

    /// <summary>The ids among <paramref name="ids"/> the grammar allows next.</summary>
    private static List<int> AllowedOf(IntPtr sampler, int[] ids)
    {
        var data = new TokenData[ids.Length];
        for (int i = 0; i < ids.Length; i++) data[i] = new TokenData { Id = ids[i], Logit = 0f };
        fixed (TokenData* d = data)
        {
            var array = new TokenDataArray { Data = d, Size = (nuint)data.Length, Selected = -1, Sorted = 0 };
            llama_sampler_apply(sampler, ref array);
        }
        var allowed = new List<int>();
        foreach (var item in data)
            if (!float.IsNegativeInfinity(item.Logit)) allowed.Add(item.Id);
        return allowed;
    }

    /// <summary>The first index of <paramref name="ids"/> (best key first) whose token is allowed, or -1.</summary>
    private static int BestAllowed(IntPtr sampler, int[] ids)
    {
        var data = new TokenData[ids.Length];
        for (int i = 0; i < ids.Length; i++) data[i] = new TokenData { Id = ids[i], Logit = 0f };
        fixed (TokenData* d = data)
        {
            var array = new TokenDataArray { Data = d, Size = (nuint)data.Length, Selected = -1, Sorted = 0 };
            llama_sampler_apply(sampler, ref array);
        }
        for (int i = 0; i < data.Length; i++)
            if (!float.IsNegativeInfinity(data[i].Logit)) return i;
        return -1;
    }

    private static bool Allowed(IntPtr sampler, int token)
    {
        var data = new TokenData { Id = token, Logit = 0f };
        var array = new TokenDataArray { Data = &data, Size = 1, Selected = -1, Sorted = 0 };
        llama_sampler_apply(sampler, ref array);
        return !float.IsNegativeInfinity(data.Logit);
    }

    private IntPtr Init(string gbnf, string root)
    {
        var sampler = llama_sampler_init_grammar(_vocab, gbnf, root);
        if (sampler == IntPtr.Zero) throw new InvalidOperationException("llama.cpp could not parse the grammar:\n" + gbnf);
        return sampler;
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TokenData
    {
        public int Id;
        public float Logit;
        public float P;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TokenDataArray
    {
        public TokenData* Data;
        public nuint Size;
        public long Selected;
        public sbyte Sorted;
    }

    [DllImport("llama")] private static extern IntPtr llama_model_get_vocab(IntPtr model);
    [DllImport("llama")]
    private static extern IntPtr llama_sampler_init_grammar(IntPtr vocab,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string grammar, [MarshalAs(UnmanagedType.LPUTF8Str)] string root);
    [DllImport("llama")] private static extern void llama_sampler_apply(IntPtr sampler, ref TokenDataArray candidates);
    [DllImport("llama")] private static extern void llama_sampler_accept(IntPtr sampler, int token);
    [DllImport("llama")] private static extern void llama_sampler_free(IntPtr sampler);
    [DllImport("llama")] private static extern IntPtr llama_sampler_clone(IntPtr sampler);
    [DllImport("llama")] private static extern int llama_token_to_piece(IntPtr vocab, int token, byte* buffer, int length, int lstrip, [MarshalAs(UnmanagedType.U1)] bool special);
    [DllImport("llama")] [return: MarshalAs(UnmanagedType.U1)] private static extern bool llama_vocab_is_eog(IntPtr vocab, int token);
}

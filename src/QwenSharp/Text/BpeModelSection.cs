using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace QwenSharp.Text;

/// <summary>
/// The "model" object of a tokenizer.json: the vocabulary (spelling → id) and the merge rules, read as UTF-8
/// straight from the file and resolved to ids while reading; the other fields checked to be Qwen2's kind
/// (type BPE, no byte fallback, merges not ignored, no subword prefix or suffix).
/// </summary>
internal sealed class BpeModelSection
{
    private readonly string _path;
    private readonly VocabularyIndex _vocab;
    private readonly List<(int, int, int)> _merges;
    private List<byte[][]>? _pending; // rules read before the vocabulary: resolved once it is known
    private bool _sawVocab;
    private readonly Func<int, string> _where;

    /// <param name="expectedTokens">how many tokens to make room for at first</param>
    public BpeModelSection(string path, int expectedTokens)
    {
        _path = path;
        _vocab = new VocabularyIndex(expectedTokens);
        _merges = new(expectedTokens);
        _where = index => $"{path}: model.merges[{index}]";
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per load: skip the slow first tier
    public void Read(ref JsonByteScanner json)
    {
        json.Expect((byte)'{');
        Span<byte> scratch = new byte[1024]; // not stackalloc: the scanner, a ref struct passed by ref, could hold on to it
        string? type = null;
        if (!json.TryConsume((byte)'}'))
        {
            do
            {
                string name = Encoding.UTF8.GetString(json.ReadString(scratch));
                json.Expect((byte)':');
                switch (name)
                {
                    case "vocab":
                        if (_sawVocab) throw json.Fail("model.vocab appears twice");
                        ReadVocabulary(ref json, _vocab);
                        _sawVocab = true;
                        break;
                    case "merges":
                        ReadMerges(ref json);
                        break;
                    default:
                        ReadSetting(name, ref json, ref type);
                        break;
                }
            } while (json.NextMember((byte)'}'));
        }
        if (type == null) throw new FormatException($"{_path}: the model has no \"type\"; expected \"BPE\".");
        if (_pending != null)
        {
            for (int i = 0; i < _pending.Count; i++)
                _merges.Add(_pending[i].Length == 1
                    ? MergeResolver.Resolve(_vocab, _pending[i][0], _where, i)
                    : MergeResolver.Resolve(_vocab, _pending[i][0], _pending[i][1], _where, i));
            _pending = null;
        }
    }

    /// <summary>The vocabulary; a spelling listed twice keeps its later id.</summary>
    public VocabularyIndex Vocabulary() => _vocab;

    /// <summary>The merge rules as ids (left, right, merged), lowest rank first.</summary>
    public List<(int, int, int)> Merges() => _merges;

    /// <summary>Reads a JSON object of spelling → id (model.vocab, vocab.json) into <paramref name="vocab"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReadVocabulary(ref JsonByteScanner json, VocabularyIndex vocab)
    {
        json.Expect((byte)'{');
        if (json.TryConsume((byte)'}')) return;
        Span<byte> scratch = new byte[1024]; // not stackalloc: the scanner, a ref struct passed by ref, could hold on to it
        do
        {
            var spelling = json.ReadString(scratch);
            json.Expect((byte)':');
            vocab.Add(spelling, json.ReadInt32());
        } while (json.NextMember((byte)'}'));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadMerges(ref JsonByteScanner json)
    {
        json.Expect((byte)'[');
        if (json.TryConsume((byte)']')) return;
        Span<byte> leftScratch = new byte[1024], rightScratch = new byte[1024];
        do
        {
            int index = _merges.Count + (_pending?.Count ?? 0);
            if (json.Peek() == '"')
            {
                // the form before tokenizers 0.20: "left right"
                var line = json.ReadString(leftScratch);
                if (_sawVocab) _merges.Add(MergeResolver.Resolve(_vocab, line, _where, index));
                else (_pending ??= new()).Add([line.ToArray()]);
                continue;
            }
            json.Expect((byte)'[');
            var left = json.ReadString(leftScratch);
            if (!json.NextMember((byte)']')) throw new FormatException($"{_where(index)} is not a pair of tokens.");
            var right = json.ReadString(rightScratch);
            if (json.NextMember((byte)']')) throw new FormatException($"{_where(index)} is not a pair of tokens.");
            if (_sawVocab) _merges.Add(MergeResolver.Resolve(_vocab, left, right, _where, index));
            else (_pending ??= new()).Add([left.ToArray(), right.ToArray()]);
        } while (json.NextMember((byte)']'));
    }

    private void ReadSetting(string name, ref JsonByteScanner json, ref string? type)
    {
        using var doc = json.ParseValue();
        var value = doc.RootElement;
        switch (name)
        {
            case "type":
                type = value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText();
                if (type != "BPE")
                    throw new FormatException($"{_path}: the model type is {type}; only byte-level BPE tokenizers (Qwen2's kind) are supported.");
                break;
            case "byte_fallback" when value.ValueKind == JsonValueKind.True:
                throw new FormatException($"{_path}: model.byte_fallback is true; byte-level BPE (Qwen2's kind) has no byte fallback.");
            case "ignore_merges" when value.ValueKind == JsonValueKind.True:
                throw new FormatException($"{_path}: model.ignore_merges is true; only Qwen2's BPE (merges always applied) is supported.");
            case "continuing_subword_prefix" or "end_of_word_suffix" when value.ValueKind == JsonValueKind.String && value.GetString() != "":
                throw new FormatException($"{_path}: model.{name} is '{value.GetString()}'; byte-level BPE (Qwen2's kind) has none.");
        }
    }
}

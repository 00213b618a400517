using System.Text;

namespace QwenSharp.Text.ToolCalls;

/// <summary>
/// Splits a streamed assistant message into content deltas and OpenAI-shaped tool-call events as the text
/// arrives in arbitrary pieces, agreeing with <see cref="ToolCallParser"/> on the whole text:
/// <list type="bullet">
/// <item>text before the first <c>&lt;tool_call&gt;</c> is content, less any suffix that could still become the
/// tag (held until decided, released by <see cref="Finish"/>); nothing of the markup or the call JSON is content;</item>
/// <item>a call starts (index, id, name) once its "name" string and its "arguments" key have been read; its
/// arguments then follow as fragments of <c>json.dumps(arguments, ensure_ascii=False)</c>, each number once
/// complete, never ending between the halves of a surrogate pair;</item>
/// <item>a malformed block before any call was started turns the markup and everything after it into
/// content, as the parser does; one found after a call was streamed cannot be taken back: the rest of the
/// text is dropped and <see cref="ToolCallStreamEnd.Divergence"/> says so.</item>
/// </list>
/// With <c>deferCalls</c> the calls are sent only by <see cref="Finish"/>, from the parse of the whole text, so
/// the stream always equals the parse (content before the first tag still streams).
/// Not thread-safe: one splitter per response.
/// </summary>
public sealed class ToolCallStreamSplitter
{
    private enum Mode { Content, InBlock, BetweenBlocks, ContentAfterMalformed, Dropping, Deferred, Finished }

    private sealed class StreamedCall(string id, string name)
    {
        public readonly string Id = id;
        public readonly string Name = name;
        public readonly StringBuilder Arguments = new();
        public int ArgumentsKeySeen = 1;
    }

    private readonly Func<string> _newId;
    private readonly bool _deferCalls;
    private readonly StringBuilder _all = new();
    private readonly StringBuilder _content = new();
    private readonly List<StreamedCall> _calls = [];
    private List<ToolCallStreamEvent> _events = [];
    private string _pending = "";
    private Mode _mode = Mode.Content;
    private int _firstTagAt = -1;
    private int _block;
    private PythonJsonReader? _reader;
    private StreamedCall? _current;
    private string? _divergence;

    /// <param name="newId">makes each call's id; <see cref="ToolCall.NewId"/> when null</param>
    /// <param name="deferCalls">send calls only at the end, once the whole text is known (never diverges)</param>
    public ToolCallStreamSplitter(Func<string>? newId = null, bool deferCalls = false)
    {
        _newId = newId ?? ToolCall.NewId;
        _deferCalls = deferCalls;
    }

    /// <summary>Takes the next piece of generated text and returns what can be sent for it now (often nothing).</summary>
    /// <exception cref="InvalidOperationException">after <see cref="Finish"/></exception>
    public IReadOnlyList<ToolCallStreamEvent> Push(string delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (_mode == Mode.Finished) throw new InvalidOperationException("The tool-call stream splitter was already finished.");
        if (delta.Length == 0) return [];
        _all.Append(delta);
        _pending += delta;
        _events = [];
        Process(atEnd: false);
        return _events;
    }

    /// <summary>Ends the stream: releases held-back content, completes an open call, and compares the stream
    /// with the parse of the whole text.</summary>
    public ToolCallStreamEnd Finish()
    {
        if (_mode == Mode.Finished) throw new InvalidOperationException("The tool-call stream splitter was already finished.");
        _events = [];
        Process(atEnd: true);
        bool deferred = _mode == Mode.Deferred;
        _mode = Mode.Finished;
        int next = 0;
        var final = ToolCallParser.Parse(_all.ToString(), () => next < _calls.Count ? _calls[next++].Id : _newId());
        if (deferred)
        {
            if (final.Calls.Count == 0) EmitContent(_all.ToString(_firstTagAt, _all.Length - _firstTagAt));
            foreach (var call in final.Calls)
            {
                var streamed = new StreamedCall(call.Id, call.Name);
                streamed.Arguments.Append(call.Arguments);
                _calls.Add(streamed);
                _events.Add(new ToolCallStarted(_calls.Count - 1, call.Id, call.Name));
                _events.Add(new ToolCallArgumentsDelta(_calls.Count - 1, call.Arguments));
            }
        }
        return new ToolCallStreamEnd(_events, final, _divergence ?? Compare(final));
    }

    private string? Compare(ToolCallParse final)
    {
        if (_content.ToString() != (final.Content ?? ""))
            return "the streamed content differs from the content of the whole text.";
        if (_calls.Count != final.Calls.Count)
            return $"{_calls.Count} tool calls were streamed but the whole text has {final.Calls.Count}.";
        for (int i = 0; i < _calls.Count; i++)
        {
            if (_calls[i].Name != final.Calls[i].Name)
                return $"tool call {i} was streamed as '{_calls[i].Name}' but the whole text names '{final.Calls[i].Name}'.";
            if (_calls[i].Arguments.ToString() != final.Calls[i].Arguments)
                return $"the streamed arguments of tool call {i} differ from those of the whole text.";
        }
        return null;
    }

    private void Process(bool atEnd)
    {
        while (true)
        {
            switch (_mode)
            {
                case Mode.Content:
                {
                    int tag = _pending.IndexOf(ToolCallParser.StartTag, StringComparison.Ordinal);
                    if (tag >= 0)
                    {
                        EmitContent(_pending[..tag]);
                        _firstTagAt = _all.Length - _pending.Length + tag;
                        _pending = _pending[(tag + ToolCallParser.StartTag.Length)..];
                        if (_deferCalls) _mode = Mode.Deferred;
                        else StartBlock();
                        continue;
                    }
                    int keep = atEnd ? 0 : PartialTagLength(_pending, ToolCallParser.StartTag);
                    EmitContent(_pending[..^keep]);
                    _pending = _pending[^keep..];
                    return;
                }
                case Mode.InBlock:
                {
                    int tag = _pending.IndexOf(ToolCallParser.EndTag, StringComparison.Ordinal);
                    int keep = tag >= 0 || atEnd ? 0 : PartialTagLength(_pending, ToolCallParser.EndTag);
                    string body = tag >= 0 ? _pending[..tag] : _pending[..^keep];
                    _pending = tag >= 0 ? _pending[(tag + ToolCallParser.EndTag.Length)..] : _pending[^keep..];
                    FeedBlock(body);
                    if (_mode != Mode.InBlock) continue;
                    if (tag < 0 && !atEnd) return;
                    EndBlock();
                    if (_mode == Mode.InBlock) _mode = Mode.BetweenBlocks;
                    if (tag < 0) return;
                    continue;
                }
                case Mode.BetweenBlocks:
                {
                    // Text between and after blocks is not content (the parser drops it); only a next block matters.
                    int tag = _pending.IndexOf(ToolCallParser.StartTag, StringComparison.Ordinal);
                    if (tag >= 0)
                    {
                        _pending = _pending[(tag + ToolCallParser.StartTag.Length)..];
                        StartBlock();
                        continue;
                    }
                    _pending = atEnd ? "" : _pending[^PartialTagLength(_pending, ToolCallParser.StartTag)..];
                    return;
                }
                case Mode.ContentAfterMalformed:
                    EmitContent(_pending);
                    _pending = "";
                    return;
                default:
                    _pending = "";
                    return;
            }
        }
    }

    /// <summary>The length of the longest proper prefix of <paramref name="tag"/> that ends <paramref name="text"/>.</summary>
    private static int PartialTagLength(string text, string tag)
    {
        for (int n = Math.Min(tag.Length - 1, text.Length); n > 0; n--)
        {
            if (text.AsSpan(text.Length - n).SequenceEqual(tag.AsSpan(0, n))) return n;
        }
        return 0;
    }

    private void EmitContent(string text)
    {
        if (text.Length == 0) return;
        _content.Append(text);
        _events.Add(new ContentDelta(text));
    }

    private void StartBlock()
    {
        _mode = Mode.InBlock;
        _block++;
        _reader = new PythonJsonReader();
        _current = null;
    }

    private void FeedBlock(string body)
    {
        _reader!.Feed(body);
        if (_reader.Error != null)
        {
            Malformed(_reader.Error);
            return;
        }
        if (_current == null && _reader.Name != null && _reader.HasArgumentsKey) StartCall(_reader.Name);
        if (_current != null) SendArguments(_reader.ArgumentsText, final: false);
    }

    private void StartCall(string name)
    {
        _current = new StreamedCall(_newId(), name);
        _calls.Add(_current);
        _events.Add(new ToolCallStarted(_calls.Count - 1, _current.Id, name));
    }

    /// <summary>Sends what the reader has written of the arguments beyond what was sent, unless a repeated
    /// "arguments" key restarted them (then the final text decides, in <see cref="EndBlock"/>).</summary>
    private void SendArguments(StringBuilder written, bool final)
    {
        var call = _current!;
        if (_reader!.ArgumentsKeyCount != call.ArgumentsKeySeen) return;
        int end = written.Length;
        if (!final && end > call.Arguments.Length && char.IsHighSurrogate(written[end - 1])) end--;
        if (end <= call.Arguments.Length) return;
        string fragment = written.ToString(call.Arguments.Length, end - call.Arguments.Length);
        call.Arguments.Append(fragment);
        _events.Add(new ToolCallArgumentsDelta(_calls.Count - 1, fragment));
    }

    private void EndBlock()
    {
        _reader!.End();
        if (_reader.Error != null)
        {
            Malformed(_reader.Error);
            return;
        }
        // The block's JSON is whole: check it as the parser does and take the final name and arguments.
        string? why = ToolCallParser.CheckCall(_reader.Root);
        if (why != null)
        {
            Malformed(why);
            return;
        }
        var root = (OrderedDictionary<string, object?>)_reader.Root!;
        string finalName = (string)root["name"]!;
        string arguments = PythonJsonWriter.Dumps(root["arguments"]);
        _current ??= StartCallAndReturn(finalName);
        string sent = _current.Arguments.ToString();
        if (_current.Name != finalName)
            _divergence ??= $"tool call {_calls.Count - 1} was streamed as '{_current.Name}' but its block names '{finalName}' last.";
        else if (arguments.StartsWith(sent, StringComparison.Ordinal))
        {
            var sb = new StringBuilder(arguments);
            _current.ArgumentsKeySeen = _reader.ArgumentsKeyCount;
            SendArguments(sb, final: true);
        }
        else
            _divergence ??= $"the arguments of tool call {_calls.Count - 1} were streamed before a repeated key replaced part of them.";
        _current = null;
    }

    private StreamedCall StartCallAndReturn(string name)
    {
        StartCall(name);
        return _current!;
    }

    private void Malformed(string why)
    {
        _reader = null;
        if (_calls.Count == 0)
        {
            // Nothing but content was sent: the parser will give the whole text as content, so the markup is content.
            _mode = Mode.ContentAfterMalformed;
            _pending = "";
            EmitContent(_all.ToString(_firstTagAt, _all.Length - _firstTagAt));
            return;
        }
        _divergence ??= $"tool call block {_block} is malformed ({why}) after {_calls.Count} call(s) were streamed; the whole text parses as no tool calls.";
        _mode = Mode.Dropping;
    }
}

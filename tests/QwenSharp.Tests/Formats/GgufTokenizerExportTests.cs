using System.Text.Json.Nodes;
using QwenSharp.Formats;

namespace QwenSharp.Tests.Formats;

/// <summary>
/// The tokenizer metadata of a Hugging Face folder as convert_hf_to_gguf.py's get_vocab_base and gguf-py's
/// SpecialVocab write it: added tokens that are special or look like control tokens ("&lt;|…|&gt;") are CONTROL,
/// other added tokens USER_DEFINED with '▁' as a space; special ids from tokenizer_config.json's tokens before
/// config.json's ids; add_bos/add_eos as tokenizer_config.json says; the template from chat_template.jinja when
/// tokenizer_config.json has none.
/// </summary>
public class GgufTokenizerExportTests
{
    [Fact]
    public void AddedTokensSpecialIdsAndTemplateFollowTheConverter()
    {
        using var dir = Fixtures.TempDir();
        var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.TokenizerFolder, "tokenizer.json")))!;
        var added = tokenizer["added_tokens"]!.AsArray();
        foreach (var (id, content) in new[] { (151646, "<|fim_prefix|>"), (151647, "<tool_call>"), (151648, "\u2581hi") })
            added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["special"] = false, ["normalized"] = false });
        File.WriteAllText(dir.File("tokenizer.json"), tokenizer.ToJsonString());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.TokenizerFolder, "tokenizer_config.json")))!.AsObject();
        config.Remove("chat_template");
        config.Remove("pad_token");
        config["bos_token"] = "<|im_start|>";
        config["eos_token"] = new JsonObject { ["content"] = "<|endoftext|>" };
        config["add_bos_token"] = true;
        config["add_eos_token"] = false;
        File.WriteAllText(dir.File("tokenizer_config.json"), config.ToJsonString());
        File.WriteAllText(dir.File("chat_template.jinja"), "{{ messages }}");

        var export = GgufTokenizerExport.FromHuggingFace(dir.Path, 151936, eosTokenId: 151645, bosTokenId: 151643);
        Assert.Equal([GgufTokenizerExport.Control, GgufTokenizerExport.Control, GgufTokenizerExport.Control,
            GgufTokenizerExport.Control, GgufTokenizerExport.UserDefined, GgufTokenizerExport.UserDefined], export.TokenTypes[151643..151649]);
        Assert.Equal(" hi", export.Tokens[151648]);
        Assert.Equal(GgufTokenizerExport.Unused, export.TokenTypes[151649]);
        Assert.Equal(151644, export.BosTokenId);   // tokenizer_config's bos_token before config.json's 151643
        Assert.Equal(151643, export.EosTokenId);   // an {"content": …} entry, before config.json's 151645
        Assert.Null(export.PaddingTokenId);
        Assert.Equal("{{ messages }}", export.ChatTemplate);

        var writer = new GgufWriter();
        export.WriteTo(writer);
        Assert.Equal(true, writer.Get(GgufNames.Keys.AddBosToken));
        Assert.Equal(false, writer.Get(GgufNames.Keys.AddEosToken));
        Assert.DoesNotContain(GgufNames.Keys.PaddingTokenId, writer.Keys);

        // Without tokenizer_config.json's tokens, config.json's ids; add_bos_token false and no add_eos_token.
        File.Delete(dir.File("tokenizer_config.json"));
        export = GgufTokenizerExport.FromHuggingFace(dir.Path, 151936, eosTokenId: 151645, bosTokenId: 151643);
        Assert.Equal((151643, 151645), (export.BosTokenId, export.EosTokenId));
        writer = new GgufWriter();
        export.WriteTo(writer);
        Assert.Equal(false, writer.Get(GgufNames.Keys.AddBosToken));
        Assert.DoesNotContain(GgufNames.Keys.AddEosToken, writer.Keys);
    }
}

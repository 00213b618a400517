using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server.OpenAi;

/// <summary>vLLM's POST /tokenize (a prompt, or chat messages rendered by the template) and POST /detokenize.</summary>
public static class TokenizeEndpoints
{
    public static async Task<IResult> TokenizeAsync(HttpContext http, ServingContext ctx)
    {
        using var doc = await RequestBody.ReadAsync(http);
        var f = new RequestFields(doc.RootElement);
        ctx.ResolveModel(f.String("model"));
        f.Bool("add_special_tokens"); // Qwen2 adds no special tokens when encoding either way
        bool tokenStrings = f.Bool("return_token_strs") ?? false;
        string text;
        if (f.Has("messages"))
        {
            if (f.Has("prompt")) throw ApiException.BadRequest("Give either 'prompt' or 'messages', not both.", "prompt");
            string messages = ChatMessages.Normalize(f.Raw("messages"));
            bool addGenerationPrompt = f.Bool("add_generation_prompt") ?? true;
            var vars = f.Raw("chat_template_kwargs") is { } kv
                ? (kv.ValueKind == System.Text.Json.JsonValueKind.Object
                    ? kv.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal)
                    : throw f.TypeError("chat_template_kwargs", "an object", kv))
                : null;
            string? tools = f.Raw("tools")?.GetRawText();
            text = ctx.Guard(b => b.RenderChat(messages, tools, addGenerationPrompt, vars));
        }
        else text = f.String("prompt") ?? throw ApiException.BadRequest("'prompt' (a string) or 'messages' is required.", "prompt");
        f.RejectUnread();

        int[] ids = ctx.Guard(b => b.Tokenize(text));
        return Results.Json(new TokenizeResponse
        {
            Count = ids.Length,
            MaxModelLen = ctx.Backend.MaxModelLength,
            Tokens = ids,
            TokenStrs = tokenStrings ? ids.Select(id => ctx.Guard(b => b.Detokenize([id]))).ToList() : null,
        }, ServerJsonContext.Default.TokenizeResponse);
    }

    public static async Task<IResult> DetokenizeAsync(HttpContext http, ServingContext ctx)
    {
        using var doc = await RequestBody.ReadAsync(http);
        var f = new RequestFields(doc.RootElement);
        ctx.ResolveModel(f.String("model"));
        if (!f.Has("tokens")) throw ApiException.BadRequest("'tokens' (an array of token ids) is required.", "tokens");
        var ids = f.Ints("tokens").ToArray();
        f.RejectUnread();
        return Results.Json(new DetokenizeResponse { Prompt = ctx.Guard(b => b.Detokenize(ids)) }, ServerJsonContext.Default.DetokenizeResponse);
    }
}

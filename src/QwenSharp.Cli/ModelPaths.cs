using QwenSharp.Hub;

namespace QwenSharp.Cli;

/// <summary>Turns a command's --model value into a local folder or GGUF file: an existing path as is,
/// otherwise the Hub locator (Hugging Face cache or download, ModelScope, Ollama's store).</summary>
public static class ModelPaths
{
    public static string Resolve(string? model, TextWriter? log = null)
    {
        if (model != null && (File.Exists(model) || Directory.Exists(model))) return model;
        var located = ModelLocator.Locate(model, HubOptions.FromEnvironment(), DownloadProgressPrinter.ForConsoleError());
        log?.WriteLine($"model: {located.Describe()}");
        return located.Path;
    }
}

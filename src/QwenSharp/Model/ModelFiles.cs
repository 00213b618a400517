using QwenSharp.Formats;
using QwenSharp.Tensors;

namespace QwenSharp.Model;

/// <summary>Opens a checkpoint (a GGUF file, or a Hugging Face folder with config.json and safetensors) as weights + config.</summary>
public static class ModelFiles
{
    public static bool IsGguf(string path) => GgufProbe.IsGguf(path);

    /// <summary>Bytes of the weights: the GGUF file, or a folder's safetensors files together.</summary>
    public static long WeightBytes(string path) => File.Exists(path)
        ? new FileInfo(path).Length
        : Directory.EnumerateFiles(path, "*.safetensors").Sum(f => new FileInfo(f).Length);

    /// <summary>The weights and the validated config of the model at <paramref name="path"/>.</summary>
    public static (IWeightSource Weights, Qwen2Config Config) Open(string path)
    {
        if (IsGguf(path))
        {
            var gguf = GgufCheckpoint.Open(path);
            try
            {
                var config = Qwen2Config.FromGguf(gguf.File);
                config.Validate();
                return (gguf, config);
            }
            catch
            {
                gguf.Dispose();
                throw;
            }
        }
        if (Directory.Exists(path))
        {
            string configPath = Path.Combine(path, "config.json");
            if (!File.Exists(configPath))
                throw new FileNotFoundException($"{path} has no config.json; a model is a Hugging Face folder (config.json + safetensors) or a .gguf file.");
            var config = Qwen2Config.FromFile(configPath);
            config.Validate();
            return (SafetensorsCheckpoint.Open(path), config);
        }
        throw new FileNotFoundException(File.Exists(path)
            ? $"{path} is neither a GGUF file nor a model folder."
            : $"Model {path} does not exist.");
    }

    /// <summary>Loads the model at <paramref name="path"/>.</summary>
    public static Qwen2Model Load(string path)
    {
        var (weights, config) = Open(path);
        try
        {
            return new Qwen2Model(weights, config);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }
}

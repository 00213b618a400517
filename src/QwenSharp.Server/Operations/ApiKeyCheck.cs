using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server.Operations;

/// <summary>
/// `--api-key`: every route but /health (and CORS preflights, as vLLM's middleware lets OPTIONS through) needs
/// `Authorization: Bearer &lt;key&gt;`. Both sides are hashed first so the constant-time comparison
/// (CryptographicOperations.FixedTimeEquals) does not reveal the key's length either.
/// </summary>
public sealed class ApiKeyCheck(string key)
{
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public bool Exempt(HttpRequest request) =>
        HttpMethods.IsOptions(request.Method) || request.Path.Equals("/health", StringComparison.Ordinal);

    public bool Accepts(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        const string scheme = "Bearer ";
        if (header == null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        byte[] given = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, _expected);
    }
}

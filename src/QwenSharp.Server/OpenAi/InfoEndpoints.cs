using System.Reflection;
using Microsoft.AspNetCore.Http;

namespace QwenSharp.Server.OpenAi;

/// <summary>GET /v1/models, /health, /version and /metrics.</summary>
public static class InfoEndpoints
{
    public static string Version { get; } =
        typeof(InfoEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(InfoEndpoints).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    public static IResult Models(ServingContext ctx) =>
        Results.Json(new ModelList { Data = ctx.ModelNames.Select(name => Card(ctx, name)).ToList() }, ServerJsonContext.Default.ModelList);

    /// <summary>GET /v1/models/{id}, OpenAI's "retrieve model".</summary>
    public static IResult Model(ServingContext ctx, string id) =>
        Results.Json(Card(ctx, ctx.ResolveModel(id)), ServerJsonContext.Default.ModelCard);

    private static ModelCard Card(ServingContext ctx, string name) => new()
    {
        Id = name, Created = ctx.Created, Root = ctx.Options.Model.Length > 0 ? ctx.Options.Model : ctx.Backend.ModelName,
        MaxModelLen = ctx.Backend.MaxModelLength,
    };

    public static IResult VersionInfo() => Results.Json(new VersionResponse { Version = Version }, ServerJsonContext.Default.VersionResponse);

    public static IResult Metrics(ServingContext ctx) =>
        Results.Text(ctx.Metrics.Render(ctx.Backend.GetStats(), ctx.PrimaryName), "text/plain; version=0.0.4; charset=utf-8");
}

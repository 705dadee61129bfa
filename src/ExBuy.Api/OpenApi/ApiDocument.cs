using System.Globalization;
using System.Text.Json.Nodes;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Observability;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace ExBuy.Api.OpenApi;

/// <summary>
/// <c>GET /openapi/v1.json</c>, generated from the mapped endpoints (their typed results, request records and the
/// metadata below), and the interactive reference (Scalar, its script served by the app: no network needed) at
/// <see cref="ReferencePath"/>. Neither is on a measured path: the document is generated when asked for.
/// </summary>
public static class ApiDocument
{
    public const string DocumentName = "v1";
    public const string DocumentPath = "/openapi/{documentName}.json";
    public const string ReferencePath = "/docs";
    public const string ContractVersion = "1.1";

    private const string ProblemJson = "application/problem+json";

    public static IServiceCollection AddExBuyOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(DocumentName, o =>
        {
            o.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            o.AddDocumentTransformer(DescribeDocument);
            o.AddOperationTransformer(DescribeOperation);
            o.AddSchemaTransformer(SchemaRules.Apply);
        });

    public static WebApplication MapExBuyOpenApi(this WebApplication app)
    {
        app.MapOpenApi(DocumentPath);
        app.MapScalarApiReference(ReferencePath, o => o
            .WithTitle("ExBuy API reference")
            .WithOpenApiRoutePattern(DocumentPath)
            .WithDefaultHttpClient(ScalarTarget.Shell, ScalarClient.Curl));
        return app;
    }

    /// <summary>Title, version, the routes that are not minimal-API handlers, and the admin API's bearer scheme.</summary>
    private static Task DescribeDocument(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Info = new OpenApiInfo
        {
            Title = "ExBuy",
            Version = ContractVersion,
            Description =
                "A miniature commerce API built to be load-tested (wire contract v" + ContractVersion + "). Every `/api/*` " +
                "response carries `X-Query-Count` and `Server-Timing`; errors are RFC 9457 problem details. Injected " +
                "faults (`X-Fault-*` request headers, `FAULT_*` settings, the admin API) may answer any route with the " +
                "delay or status they name, marked by an `X-Fault` response header; they are not listed per operation.",
        };
        document.Paths ??= [];
        if (context.ApplicationServices.GetRequiredService<ObservabilityOptions>().Metrics)
        {
            document.Paths[TelemetrySetup.MetricsPath] = new OpenApiPathItem
            {
                Operations = new Dictionary<HttpMethod, OpenApiOperation>
                {
                    [HttpMethod.Get] = TextOperation("Metrics", "Prometheus text exposition of the request, database and runtime metrics.",
                        "text/plain; version=0.0.4"),
                },
            };
        }
        document.Paths[DocumentPath.Replace("{documentName}", DocumentName, StringComparison.Ordinal)] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = TextOperation("OpenApiDocument", "This document.", "application/json"),
            },
        };
        if (document.Paths.Keys.Any(p => p.StartsWith(Faults.FaultAdminApi.Prefix, StringComparison.Ordinal)))
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[AdminScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The ADMIN_TOKEN the server was started with.",
            };
        }
        return Task.CompletedTask;
    }

    private const string AdminScheme = "AdminToken";

    private static OpenApiOperation TextOperation(string id, string summary, string contentType) => new()
    {
        OperationId = id,
        Summary = summary,
        Tags = new HashSet<OpenApiTagReference> { new("Health") },
        Responses = new OpenApiResponses
        {
            ["200"] = new OpenApiResponse { Description = "OK", Content = new Dictionary<string, OpenApiMediaType> { [contentType] = new() } },
        },
    };

    /// <summary>
    /// Per operation: the query parameters the handler parses, the 503 of every database-backed route, 413/415 of every
    /// JSON body, problem+json on every error that has no body of its own, and the response headers every route sends.
    /// </summary>
    private static async Task DescribeOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var path = "/" + (context.Description.RelativePath ?? "");

        operation.Parameters ??= [];
        var parameters = metadata.OfType<QueryParameterList>().SelectMany(l => l.Items).ToList();
        if (metadata.OfType<OptimizeFlag>().Any())
        {
            parameters.Add(Query.Optimize);
        }
        foreach (var p in parameters)
        {
            operation.Parameters.Add(ToParameter(p));
        }

        if (operation.RequestBody is null && metadata.OfType<DocumentedBody>().LastOrDefault() is { } documented)
        {
            IOpenApiSchema schema = await context.GetOrCreateSchemaAsync(documented.Type, null, ct);
            if (!documented.Type.IsArray)
            {
                context.Document?.AddComponent(documented.Type.Name, (OpenApiSchema)schema);
                schema = new OpenApiSchemaReference(documented.Type.Name, context.Document);
            }
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType> { [documented.ContentType] = new() { Schema = schema } },
            };
        }

        operation.Responses ??= [];
        var usesDatabase = metadata.OfType<System.Reflection.MethodInfo>()
            .Any(m => m.GetParameters().Any(p => p.ParameterType == typeof(ExBuyDb)));
        if (usesDatabase && !operation.Responses.ContainsKey("503"))
        {
            operation.Responses["503"] = new OpenApiResponse
            {
                Description = "The database is unreachable or its connection pool is exhausted; retry after `Retry-After` seconds.",
                Headers = new Dictionary<string, IOpenApiHeader> { ["Retry-After"] = Header("integer", "Seconds to wait before retrying.") },
            };
        }
        if (operation.RequestBody is OpenApiRequestBody { Content: { } content } body && content.TryGetValue("application/json", out var json))
        {
            // The handler answers a missing body with a 400 naming it; on the wire the body is required, never null.
            body.Required = true;
            if (json.Schema is OpenApiSchema { OneOf: { Count: > 0 } oneOf })
            {
                json.Schema = oneOf.First(s => s is not OpenApiSchema { Type: JsonSchemaType.Null });
            }
            operation.Responses.TryAdd("413", new OpenApiResponse { Description = $"The body is larger than {Hosting.MaxJsonBodyBytes / 1024} KiB." });
            // 415 comes from framework binding of a JSON parameter; a handler that reads the body itself (the admin API)
            // parses whatever it is sent.
            var bound = metadata.OfType<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>().LastOrDefault()?.RequestType is { } requestType
                && metadata.OfType<System.Reflection.MethodInfo>().Any(m => m.GetParameters().Any(p => p.ParameterType == requestType));
            if (bound)
            {
                operation.Responses.TryAdd("415", new OpenApiResponse { Description = "The body is not `application/json`." });
            }
        }
        if (path.StartsWith(Faults.FaultAdminApi.Prefix, StringComparison.Ordinal))
        {
            operation.Responses.TryAdd("401", new OpenApiResponse { Description = "Missing or wrong `Authorization: Bearer <ADMIN_TOKEN>`." });
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(AdminScheme, context.Document)] = [] }];
        }

        IOpenApiSchema? problem = null;
        foreach (var (status, response) in operation.Responses.ToList())
        {
            if (response is not OpenApiResponse r)
            {
                continue;
            }
            var code = int.Parse(status, CultureInfo.InvariantCulture);
            if (code >= 400 && (r.Content is null || r.Content.Count == 0))
            {
                problem ??= await ProblemSchemaAsync(context, ct);
                r.Content = new Dictionary<string, OpenApiMediaType> { [ProblemJson] = new() { Schema = problem } };
            }
            if (string.IsNullOrEmpty(r.Description) || r.Description == ReasonPhrase(code))
            {
                r.Description = ReasonPhrase(code);
            }
            if (path.StartsWith("/api/", StringComparison.Ordinal))
            {
                r.Headers ??= new Dictionary<string, IOpenApiHeader>();
                r.Headers.TryAdd("X-Query-Count", Header("integer", "SQL commands this request executed."));
                r.Headers.TryAdd("Server-Timing", Header("string", "`app;dur=<ms>, db;dur=<ms>;desc=\"<n> queries\"` (W3C Server Timing)."));
                r.Headers.TryAdd("X-Db-Host", Header("string",
                    "`host:port` of the PostgreSQL server that ran this request's last query; only when there is more than one (DB_READ_HOSTS, or several DB_HOST hosts)."));
            }
            if (code == 201 && path is not ("/api/orders/bulk" or "/api/reviews"))
            {
                r.Headers ??= new Dictionary<string, IOpenApiHeader>();
                r.Headers.TryAdd("Location", Header("string", "The created resource."));
            }
        }
    }

    private static async Task<IOpenApiSchema> ProblemSchemaAsync(OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        const string name = "ProblemDetails";
        if (context.Document?.Components?.Schemas?.ContainsKey(name) != true)
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, ct);
            context.Document?.AddComponent(name, schema);
        }
        return new OpenApiSchemaReference(name, context.Document);
    }

    /// <summary>
    /// Documents a body the handler reads itself. Unlike <c>Accepts</c>, it takes no part in routing: <c>Accepts</c> would
    /// make the router answer 415 to another content type before the handler (or the admin API's token check) runs.
    /// </summary>
    public static TBuilder WithDocumentedBody<TBuilder>(this TBuilder builder, Type type, string contentType)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DocumentedBody(type, contentType));

    private sealed record DocumentedBody(Type Type, string ContentType);

    private static OpenApiParameter ToParameter(QueryParameter p)
    {
        var schema = new OpenApiSchema
        {
            Type = p.Type switch
            {
                "integer" => JsonSchemaType.Integer,
                "number" => JsonSchemaType.Number,
                _ => JsonSchemaType.String,
            },
            Minimum = p.Minimum?.ToString(CultureInfo.InvariantCulture),
            Maximum = p.Maximum?.ToString(CultureInfo.InvariantCulture),
            MaxLength = p.MaxLength,
        };
        if (p.Type == "number")
        {
            schema.Minimum = "0";
        }
        if (p.Default is not null)
        {
            schema.Default = p.Type == "integer" ? JsonValue.Create(long.Parse(p.Default, CultureInfo.InvariantCulture)) : JsonValue.Create(p.Default);
        }
        if (p.Choices is not null)
        {
            schema.Enum = [.. p.Choices.Select(c => (JsonNode)JsonValue.Create(c))];
        }
        return new OpenApiParameter { Name = p.Name, In = ParameterLocation.Query, Description = p.Description, Schema = schema };
    }

    private static OpenApiHeader Header(string type, string description) => new()
    {
        Description = description,
        Schema = new OpenApiSchema { Type = type == "integer" ? JsonSchemaType.Integer : JsonSchemaType.String },
    };

    private static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : status.ToString(CultureInfo.InvariantCulture);
}

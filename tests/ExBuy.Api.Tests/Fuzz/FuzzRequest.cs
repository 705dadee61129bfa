using System.Text;
using System.Text.RegularExpressions;

namespace ExBuy.Api.Tests.Fuzz;

/// <summary>
/// One generated request, as sent (with its Authorization header, if any); the document its body was written from
/// (null when it had none); and whether its path id is no positive integer at all, which the contract answers with a
/// 404 whatever else the request says.
/// </summary>
public sealed record FuzzRequest(HttpMethod Method, string Url, byte[]? Body = null, string? ContentType = null,
    JsonTree? Document = null, bool PathIdIsNotAnId = false, string? Authorization = null)
{
    public bool IsWrite => Method != HttpMethod.Get;

    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(Method, Url);
        if (Authorization is not null)
        {
            message.Headers.TryAddWithoutValidation("Authorization", Authorization);
        }
        if (Body is not null)
        {
            message.Content = new ByteArrayContent(Body);
            if (ContentType is not null)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
            }
        }
        return message;
    }

    /// <summary>What a failure prints (with CsCheck's seed): method, URL, content type and body, long parts elided.</summary>
    public override string ToString()
    {
        var body = Body is null ? "" : $" [{ContentType ?? "no content type"}] {Elide(Encoding.UTF8.GetString(Body), 600)}";
        var authorization = Authorization is null ? "" : $" (Authorization: {Authorization})";
        return $"{Method} {Elide(Url, 300)}{authorization}{body}";
    }

    private static string Elide(string text, int max) =>
        text.Length <= max ? text : $"{text[..(max / 2)]}…({text.Length} chars)…{text[^(max / 2)..]}";
}

/// <summary>
/// What a 400's <c>errors</c> keys may name for one endpoint: its query parameters and the field paths of its body,
/// as templates with indices written <c>[]</c> (<c>orders[].items[].product_id</c>).
/// </summary>
public sealed record EndpointShape(string Name, IReadOnlyList<string> QueryParameters, IReadOnlyList<string> BodyFields)
{
    /// <summary>
    /// An error key is accepted when it is <c>body</c>; a query parameter of the endpoint; a body field path of the
    /// endpoint whose indices and parent members exist in the document sent; or the path of a node of the document
    /// sent (where a JSON reader stopped, e.g. in the middle of an unknown member).
    /// </summary>
    public string? Unexplained(IEnumerable<string> keys, JsonTree? document)
    {
        foreach (var key in keys)
        {
            if (key == "body" || QueryParameters.Contains(key))
            {
                continue;
            }
            if (BodyFields.Contains(Regex.Replace(key, @"\[\d+\]", "[]")) && PathSegment.Parse(key) is { } segments
                && (document is null || document.Reaches(segments)))
            {
                continue;
            }
            if (document is not null && document.FieldPaths().Contains(JsonTree.Dotted(key)))
            {
                continue;
            }
            return key;
        }
        return null;
    }
}

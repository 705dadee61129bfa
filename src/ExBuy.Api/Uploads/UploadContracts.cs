namespace ExBuy.Api.Uploads;

/// <summary>Upload (contract: Resources); <c>id</c> is a UUID and also the stored file's name.</summary>
public sealed record UploadDto(Guid Id, string Filename, long Size, string ContentType, string Sha256, DateTime CreatedAt);

/// <summary>The multipart body of POST /api/uploads as the OpenAPI document describes it (the handler streams the part itself).</summary>
public sealed record UploadForm(IFormFile File);

namespace ExBuy.Api.Uploads;

/// <summary>Upload (contract: Resources); <c>id</c> is a UUID and also the stored file's name.</summary>
public sealed record UploadDto(Guid Id, string Filename, long Size, string ContentType, string Sha256, DateTime CreatedAt);

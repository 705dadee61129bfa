namespace ExBuy.Api.Common;

/// <summary>The validation messages several features share, in DRF's wording (the original's clients read them).</summary>
public static class Messages
{
    public const string Required = "This field is required.";
    public const string NotNull = "This field may not be null.";
    public const string BodyRequired = "A JSON request body is required.";

    public static string AtLeast(long min) => $"Ensure this value is greater than or equal to {min}.";

    public static string Between(long min, long max) => $"Ensure this value is between {min} and {max}.";
}

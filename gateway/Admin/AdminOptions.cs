using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Admin;

/// <summary>
/// The admin REST API (section <c>Admin</c>). Bearer tokens only, compared in constant time. There is no default
/// token: with none configured, Development accepts <c>dev-admin-token</c> (<see cref="DevelopmentToken"/>) and every other environment
/// refuses every admin request until <c>Admin__Tokens__0</c> is set.
/// </summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>Accepted only in the Development environment, and only while <see cref="Tokens"/> is empty.</summary>
    public const string DevelopmentToken = "dev-admin-token";

    /// <summary>Longest accepted token (and request header value we bother to hash).</summary>
    public const int MaxTokenLength = 512;

    /// <summary>Whether the /api/v1 endpoints are mapped at all. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Accepted bearer tokens (<c>Admin__Tokens__0</c>, …): 1–512 visible ASCII characters each, no spaces.</summary>
    public string[] Tokens { get; set; } = [];
}

/// <summary>Start-time checks; a failure names the key (Admin:Tokens:N) and never echoes the token.</summary>
public sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions options)
    {
        var failures = new List<string>();
        for (int i = 0; i < options.Tokens.Length; i++)
        {
            string token = options.Tokens[i] ?? "";
            // RFC 6750 §2.1 b64token characters are a subset of visible ASCII; anything else cannot arrive in a header.
            if (token.Length is 0 or > AdminOptions.MaxTokenLength || token.Any(c => c is <= ' ' or > '~'))
            {
                failures.Add($"{AdminOptions.Section}:{nameof(AdminOptions.Tokens)}:{i} must be 1-{AdminOptions.MaxTokenLength} visible ASCII characters without spaces");
            }
            else if (token == AdminOptions.DevelopmentToken)
            {
                failures.Add($"{AdminOptions.Section}:{nameof(AdminOptions.Tokens)}:{i} is the well-known development token; configure a secret one");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Admin;

/// <summary>
/// The accepted bearer tokens, fixed at start. Tokens are kept only as SHA-256 digests and a presented token is hashed
/// and compared with every digest in constant time, so neither the length nor a matching prefix leaks through timing.
/// </summary>
public sealed class AdminTokens
{
    private readonly byte[][] _digests;

    public AdminTokens(IOptions<AdminOptions> options, IHostEnvironment environment, ILoggerFactory loggers)
    {
        ILogger logger = loggers.CreateLogger(AdminLog.Category);
        string[] tokens = options.Value.Tokens;
        if (tokens.Length == 0 && environment.IsDevelopment())
        {
            AdminLog.DevelopmentToken(logger);
            tokens = [AdminOptions.DevelopmentToken];
        }
        else if (tokens.Length == 0)
        {
            AdminLog.NoToken(logger);
        }
        _digests = tokens.Select(t => SHA256.HashData(Encoding.UTF8.GetBytes(t))).ToArray();
    }

    /// <summary>Whether <paramref name="token"/> is one of the accepted tokens; always false when none is configured.</summary>
    public bool Accepts(ReadOnlySpan<char> token)
    {
        if (token.IsEmpty || token.Length > AdminOptions.MaxTokenLength)
        {
            return false;
        }
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(AdminOptions.MaxTokenLength)];
        int length = Encoding.UTF8.GetBytes(token, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], digest);
        bool accepted = false;
        foreach (byte[] expected in _digests)
        {
            // No early exit: every configured token is compared.
            accepted |= CryptographicOperations.FixedTimeEquals(digest, expected);
        }
        return accepted;
    }
}

/// <summary><c>Authorization: Bearer &lt;token&gt;</c> (RFC 6750 §2.1) on every admin endpoint; 401 with a challenge otherwise.</summary>
internal sealed class AdminAuthenticationFilter(AdminTokens tokens, ILoggerFactory loggers) : IEndpointFilter
{
    private readonly ILogger _logger = loggers.CreateLogger(AdminLog.Category);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        HttpContext http = context.HttpContext;
        string? reason = Check(http.Request.Headers.Authorization.ToString());
        if (reason is null)
        {
            return await next(context);
        }
        AdminLog.Refused(_logger, http.Request.Method, http.Request.Path, http.Connection.RemoteIpAddress?.ToString(), reason);
        // RFC 6750 §3: a missing credential gets a bare challenge, a bad one error="invalid_token".
        http.Response.Headers.WWWAuthenticate = reason == "no bearer token"
            ? "Bearer realm=\"cmpcluster-admin\""
            : "Bearer realm=\"cmpcluster-admin\", error=\"invalid_token\"";
        return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            detail: "A valid admin bearer token is required.");
    }

    private string? Check(string header)
    {
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return "no bearer token";
        }
        return tokens.Accepts(header.AsSpan(scheme.Length).Trim()) ? null : "token not accepted";
    }
}

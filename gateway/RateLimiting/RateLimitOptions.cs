using System.ComponentModel.DataAnnotations;
using System.Net;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.RateLimiting;

/// <summary>
/// Gateway rate limits (section <c>RateLimits</c>): a token bucket per client address (CMP, CRL, OCSP; HTTP and TCP), a
/// token bucket and a concurrency cap per CMP alias. Health probes, metrics and the management surfaces are never limited.
/// The defaults leave a busy RA alone: the load generator at its defaults sends ≈ 500 requests a second from one address
/// on the 2-core development machine (docs/BENCHMARKS.md), under the per-address refill of 1 000 a second.
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Whether any limit applies. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Per client address (an IPv6 client counts by its /64). Default 2 000 tokens, 1 000 added a second.</summary>
    public TokenBucketLimit PerAddress { get; set; } = new() { TokenLimit = 2_000, TokensPerPeriod = 1_000 };

    /// <summary>Per CMP alias, all clients together. Default 10 000 tokens, 5 000 a second, 256 requests in flight.</summary>
    public AliasLimit PerAlias { get; set; } = new() { TokenLimit = 10_000, TokensPerPeriod = 5_000, ConcurrencyLimit = 256 };

    /// <summary>How often the one summary line of refused requests is logged (only when some were). Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LogInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Proxies (IP addresses or CIDR networks) whose <c>X-Forwarded-For</c> names the client, e.g. the HAProxy in front of
    /// the gateways (<c>option forwardfor</c>). Empty by default: the connection's own remote address counts.
    /// </summary>
    public List<string> KnownProxies { get; set; } = [];
}

/// <summary>A token bucket: <see cref="TokenLimit"/> requests at once, refilled by <see cref="TokensPerPeriod"/> every
/// <see cref="ReplenishmentPeriod"/> (continuously, in proportion to the time passed).</summary>
public class TokenBucketLimit
{
    /// <summary>Most tokens the bucket holds: the burst it allows.</summary>
    [Range(1, 10_000_000)]
    public int TokenLimit { get; set; }

    /// <summary>Tokens added every <see cref="ReplenishmentPeriod"/>.</summary>
    [Range(1, 10_000_000)]
    public int TokensPerPeriod { get; set; }

    /// <summary>The period <see cref="TokensPerPeriod"/> refers to; tokens are added continuously, in proportion to the time passed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>The per-alias bucket plus a cap on the alias's requests in flight at this gateway.</summary>
public sealed class AliasLimit : TokenBucketLimit
{
    /// <summary>Requests of the alias in flight at this gateway at most (held until the answer is written).</summary>
    [Range(1, 10_000_000)]
    public int ConcurrencyLimit { get; set; }
}

/// <summary>Start-time checks (the ranges through their attributes, <see cref="OptionAnnotations"/>); each failure names its key.</summary>
public sealed class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
    {
        var failures = new List<string>();
        OptionAnnotations.Validate(options, RateLimitOptions.Section, failures);
        if (options.PerAddress is null) failures.Add($"{RateLimitOptions.Section}:{nameof(RateLimitOptions.PerAddress)} is missing");
        if (options.PerAlias is null) failures.Add($"{RateLimitOptions.Section}:{nameof(RateLimitOptions.PerAlias)} is missing");
        for (int i = 0; i < options.KnownProxies.Count; i++)
        {
            if (!TryParseNetwork(options.KnownProxies[i], out _))
            {
                failures.Add($"{RateLimitOptions.Section}:{nameof(RateLimitOptions.KnownProxies)}:{i} '{options.KnownProxies[i]}' must be an IP address or a CIDR network (10.0.0.0/8)");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>An address alone is a network of one address.</summary>
    public static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        if (IPAddress.TryParse(text.Trim(), out IPAddress? address))
        {
            address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        return IPNetwork.TryParse(text.Trim(), out network);
    }
}

using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.RateLimiting;

/// <summary>Which limit refused a request; the value of the <c>limit</c> tag of <c>cmp.gateway.rate_limited</c>.</summary>
public enum RateLimitKind
{
    Address = 0,
    Alias = 1,
    AliasConcurrency = 2,
}

/// <summary>
/// The gateway's limits, shared by HTTP (through ASP.NET Core's rate-limiting middleware, <see cref="HttpRateLimiter"/>)
/// and CMP over TCP (<see cref="Tcp.CmpTcpListener"/>): one token bucket per client address, one token bucket and one
/// concurrency limiter per CMP alias (System.Threading.RateLimiting partitioned limiters; idle partitions are dropped).
/// Nothing queues: a request over a limit is refused at once.
/// </summary>
public sealed class GatewayRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _perAddress;
    private readonly PartitionedRateLimiter<string> _perAlias;
    private readonly PartitionedRateLimiter<string> _aliasConcurrency;
    private readonly IPNetwork[] _proxies;

    public GatewayRateLimiter(IOptions<RateLimitOptions> options)
    {
        RateLimitOptions settings = options.Value;
        Enabled = settings.Enabled;
        _perAddress = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => Bucket(settings.PerAddress)));
        _perAlias = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => Bucket(settings.PerAlias)));
        _aliasConcurrency = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetConcurrencyLimiter(key,
            _ => new ConcurrencyLimiterOptions { PermitLimit = settings.PerAlias.ConcurrencyLimit, QueueLimit = 0 }));
        _proxies = settings.KnownProxies
            .Select(p => RateLimitOptionsValidator.TryParseNetwork(p, out IPNetwork network) ? network : (IPNetwork?)null)
            .OfType<IPNetwork>().ToArray();
    }

    public bool Enabled { get; }

    /// <summary>
    /// One request from <paramref name="addressKey"/> (see <see cref="AddressKey"/>), to <paramref name="alias"/> when it is
    /// a configured CMP alias (null otherwise: CRL, OCSP, unknown aliases count per address only). Dispose the lease when
    /// the request is answered: it holds the alias's concurrency permit.
    /// </summary>
    public GatewayLease Acquire(string addressKey, string? alias)
    {
        if (!Enabled)
        {
            return GatewayLease.Granted([]);
        }
        RateLimitLease address = _perAddress.AttemptAcquire(addressKey);
        if (!address.IsAcquired)
        {
            return GatewayLease.Refused(RateLimitKind.Address, address);
        }
        if (alias is null)
        {
            return GatewayLease.Granted([address]);
        }
        RateLimitLease rate = _perAlias.AttemptAcquire(alias);
        if (!rate.IsAcquired)
        {
            address.Dispose();
            return GatewayLease.Refused(RateLimitKind.Alias, rate);
        }
        RateLimitLease concurrency = _aliasConcurrency.AttemptAcquire(alias);
        if (!concurrency.IsAcquired)
        {
            address.Dispose();
            rate.Dispose();
            return GatewayLease.Refused(RateLimitKind.AliasConcurrency, concurrency);
        }
        return GatewayLease.Granted([address, rate, concurrency]);
    }

    /// <summary>Whether the address has a whole token left, taking none: a TCP connection from an address without one is
    /// closed at accept (a bucket refills continuously, so a fraction of a token is not yet a request).</summary>
    public bool AddressHasTokens(string addressKey) =>
        !Enabled || _perAddress.GetStatistics(addressKey) is not { CurrentAvailablePermits: < 1 };

    /// <summary>
    /// The client of an HTTP request: the connection's remote address, or, when that is one of
    /// <see cref="RateLimitOptions.KnownProxies"/>, the last X-Forwarded-For entry that is not a known proxy (each
    /// proxy appends the address it received the request from, so entries to the left are the client's to invent).
    /// </summary>
    public IPAddress? ClientAddress(HttpContext http)
    {
        IPAddress? remote = Normalize(http.Connection.RemoteIpAddress);
        if (remote is null || _proxies.Length == 0 || !IsProxy(remote))
        {
            return remote;
        }
        string[] hops = string.Join(',', http.Request.Headers["X-Forwarded-For"].ToArray())
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (int i = hops.Length - 1; i >= 0; i--)
        {
            if (!IPAddress.TryParse(hops[i], out IPAddress? hop))
            {
                return remote;
            }
            hop = Normalize(hop)!;
            if (!IsProxy(hop))
            {
                return hop;
            }
        }
        return remote;
    }

    /// <summary>The partition of a client address: IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64).</summary>
    public static string AddressKey(IPAddress? address)
    {
        address = Normalize(address);
        if (address is null)
        {
            return "(none)";
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(address))
        {
            return address.ToString();
        }
        byte[] bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    public void Dispose()
    {
        _perAddress.Dispose();
        _perAlias.Dispose();
        _aliasConcurrency.Dispose();
    }

    private bool IsProxy(IPAddress address) => _proxies.Any(p => p.Contains(address));

    private static IPAddress? Normalize(IPAddress? address) => address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    /// <summary>Refilled by the partitioned limiter's own timer, in proportion to the time passed (no timer per bucket).</summary>
    private static TokenBucketRateLimiterOptions Bucket(TokenBucketLimit limit) => new()
    {
        TokenLimit = limit.TokenLimit,
        TokensPerPeriod = limit.TokensPerPeriod,
        ReplenishmentPeriod = limit.ReplenishmentPeriod,
        AutoReplenishment = false,
        QueueLimit = 0,
    };
}

/// <summary>The outcome of <see cref="GatewayRateLimiter.Acquire"/>: the leases held, or which limit refused and when to retry.</summary>
public sealed class GatewayLease : RateLimitLease
{
    /// <summary>Metadata name of the refusing <see cref="RateLimitKind"/> (what ASP.NET Core's OnRejected can read).</summary>
    public const string KindMetadata = "CMPCLUSTER_RATE_LIMIT_KIND";

    private readonly RateLimitLease[] _held;

    private GatewayLease(RateLimitKind? refusedBy, TimeSpan? retryAfter, RateLimitLease[] held)
    {
        RefusedBy = refusedBy;
        RetryAfter = retryAfter;
        _held = held;
    }

    public RateLimitKind? RefusedBy { get; }

    /// <summary>When the refusing token bucket will have a token again; none for the concurrency cap.</summary>
    public TimeSpan? RetryAfter { get; }

    public override bool IsAcquired => RefusedBy is null;

    public override IEnumerable<string> MetadataNames => RefusedBy is null ? [] : [MetadataName.RetryAfter.Name, KindMetadata];

    public static GatewayLease Granted(RateLimitLease[] held) => new(null, null, held);

    public static GatewayLease Refused(RateLimitKind kind, RateLimitLease refusal)
    {
        TimeSpan? retryAfter = refusal.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : null;
        refusal.Dispose();
        return new GatewayLease(kind, retryAfter, []);
    }

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = metadataName switch
        {
            _ when RefusedBy is null => null,
            KindMetadata => RefusedBy,
            _ when metadataName == MetadataName.RetryAfter.Name => RetryAfter,
            _ => null,
        };
        return metadata is not null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (RateLimitLease lease in _held)
            {
                lease.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// One node with tight limits for the rate-limit tests (HTTP and TCP share it through <see cref="RateLimitedNodeCollection"/>):
/// <see cref="AddressTokens"/> requests per client address with practically no refill (one token an hour, so counts are
/// exact), a per-alias concurrency cap of <see cref="AliasConcurrency"/>, <see cref="Proxy"/> as a known proxy, and a
/// one-second summary log window. Each test
/// uses its own loopback source addresses (127.0.0.0/8 all reach the node's 127.0.0.1), so the buckets do not mix.
/// </summary>
public sealed class RateLimitedNodeFixture : IAsyncLifetime
{
    public const int AddressTokens = 20;
    public const int AliasConcurrency = 2;

    /// <summary>The one address whose X-Forwarded-For names the client (a load balancer in front of the gateway).</summary>
    public const string Proxy = "127.0.0.20";

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("the node fixture is not started");

    public async Task InitializeAsync() => _node = await NodeProcess.StartAsync(
    [
        $"--RateLimits:PerAddress:TokenLimit={AddressTokens}",
        "--RateLimits:PerAddress:TokensPerPeriod=1",
        "--RateLimits:PerAddress:ReplenishmentPeriod=01:00:00",
        $"--RateLimits:PerAlias:ConcurrencyLimit={AliasConcurrency}",
        "--RateLimits:LogInterval=00:00:01",
        $"--RateLimits:KnownProxies:0={Proxy}",
    ]);

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RateLimitedNodeCollection : ICollectionFixture<RateLimitedNodeFixture>
{
    public const string Name = "rate-limited node";
}

/// <summary>Clients that connect from a chosen loopback address, as distinct clients do.</summary>
public static class LoopbackClients
{
    public static IPAddress Address(string address) => IPAddress.Parse(address);

    /// <summary>An HttpClient whose connections come from <paramref name="source"/> (SocketsHttpHandler.ConnectCallback).</summary>
    public static HttpClient Http(Uri baseAddress, string source) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancel) =>
        {
            Socket socket = await ConnectAsync(source, context.DnsEndPoint.Port, cancel);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    {
        BaseAddress = baseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>A TCP connection to 127.0.0.1:<paramref name="port"/> from <paramref name="source"/>.</summary>
    public static async Task<Socket> ConnectAsync(string source, int port, CancellationToken cancel = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(Address(source), 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancel);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An ir with implicitConfirm on the <c>ra</c> alias (development secret).</summary>
    public static (CmpClientSession Session, byte[] Ir) Enrollment(string commonName)
    {
        var session = new CmpClientSession("changeit", "ra");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return (session, session.BuildEnrollment(initial: true, new X509Name($"CN={commonName},O=Example"), key, implicitConfirm: true));
    }

    public static ByteArrayContent Pkixcmp(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/pkixcmp");
        return content;
    }

    /// <summary>POSTs an ir to the <c>ra</c> alias and asserts a CMP answer: HTTP 200, application/pkixcmp, an ip with a certificate.</summary>
    public static async Task AssertEnrollsAsync(HttpClient http, string commonName, NodeProcess node)
    {
        (CmpClientSession session, byte[] ir) = Enrollment(commonName);
        using HttpResponseMessage response = await http.PostAsync(".well-known/cmp/p/ra", Pkixcmp(ir));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{commonName}: HTTP {(int)response.StatusCode}\n{node.Diagnostics()}");
        Assert.Equal("application/pkixcmp", response.Content.Headers.ContentType?.MediaType);
        CmpResponseView ip = session.Read(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
        Assert.NotNull(ip.CertificateDer);
    }
}

using System.Diagnostics;
using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using CmpCluster.Tests.EndToEnd;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Tcp;

/// <summary>
/// Gateway rate limits on CMP over TCP (<see cref="RateLimitedNodeFixture"/>, shared with the HTTP tests): the per-address
/// bucket is the same as for HTTP; a frame over it is not answered and the connection is closed, and a later connection
/// from that address is accepted and closed at once; another address keeps getting pkiRep frames.
/// </summary>
[Collection(RateLimitedNodeCollection.Name)]
public sealed class TcpRateLimitTests(RateLimitedNodeFixture fixture)
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task A_tcp_offender_over_its_address_limit_is_closed_while_another_client_is_answered()
    {
        var offenderAddress = LoopbackClients.Address("127.0.0.10");
        int answered = 0;
        await using (CmpTcpTransport offender = await CmpTcpTransport.ConnectAsync("127.0.0.1", Node.TcpPort, offenderAddress))
        {
            // An empty SEQUENCE is DER but no PKIMessage: a cheap CMP error answer (pkiRep), and the connection stays open.
            CmpTcpTransportException? closed = null;
            for (int i = 0; i < 3 * RateLimitedNodeFixture.AddressTokens && closed is null; i++)
            {
                try
                {
                    Assert.NotEmpty(await offender.ExchangeAsync([0x30, 0x00]));
                    answered++;
                }
                catch (CmpTcpTransportException e)
                {
                    closed = e;
                }
            }
            Assert.True(closed is not null, $"never closed after {answered} frames\n{Node.Diagnostics()}");
            Assert.Null(closed.Frame); // closed without a reply, not an errorMsgRep
            Assert.Equal(RateLimitedNodeFixture.AddressTokens, answered);
        }

        await using (CmpTcpTransport again = await CmpTcpTransport.ConnectAsync("127.0.0.1", Node.TcpPort, offenderAddress))
        {
            Assert.True(await again.WaitForCloseAsync(TimeSpan.FromSeconds(20)), "a connection from the offender was not closed at accept");
        }

        await using (CmpTcpTransport device = await CmpTcpTransport.ConnectAsync("127.0.0.1", Node.TcpPort, LoopbackClients.Address("127.0.0.11")))
        {
            var session = new CmpClientSession("changeit", "tcp");
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            byte[] ir = session.BuildEnrollment(initial: true, new X509Name("CN=tcp-rate-limit-neighbour,O=Example"), key, implicitConfirm: true);
            CmpResponseView ip = session.Read(await device.ExchangeAsync(ir));
            Assert.Equal(PkiBodyType.Ip, ip.BodyType);
            Assert.NotNull(ip.CertificateDer);
        }

        using HttpClient management = Node.CreateManagementClient();
        var clock = Stopwatch.StartNew();
        string metrics = await management.GetStringAsync("metrics");
        const string series = "alias=\"tcp\",limit=\"address\",transport=\"tcp\"";
        while (!metrics.Contains(series, StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(250);
            metrics = await management.GetStringAsync("metrics");
        }
        Assert.Contains(series, metrics);
    }
}

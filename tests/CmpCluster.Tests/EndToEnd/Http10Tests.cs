using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// Flow 7: OpenSSL 3.0 speaks HTTP/1.0 with <c>Connection: keep-alive</c> (every openssl test covers that); here the
/// exact wire form is sent by hand: ir and certConf as two HTTP/1.0 requests on one kept-alive connection.
/// </summary>
public sealed class Http10Tests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task Ir_and_certConf_over_one_http10_keep_alive_connection()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var session = new CmpClientSession("changeit", "ra");
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", Node.HttpPort);
        tcp.ReceiveTimeout = 30_000;
        NetworkStream stream = tcp.GetStream();

        HttpReply ip = await ExchangeAsync(stream, "/.well-known/cmp/p/ra",
            session.BuildEnrollment(initial: true, new X509Name("CN=e2e-http10"), key));
        Assert.True(ip.Status == 200, $"{ip}\n{Node.Diagnostics()}");
        Assert.Equal("application/pkixcmp", ip.Header("content-type"));
        CmpResponseView ipView = session.Read(ip.Body);
        Assert.Equal(PkiBodyType.Ip, ipView.BodyType);
        Assert.NotNull(ipView.CertificateDer);
        Assert.True(session.VerifyMac(ip.Body), "ip is not MAC-protected");
        Assert.NotEqual("close", ip.Header("connection")?.ToLowerInvariant());

        HttpReply pkiConf = await ExchangeAsync(stream, "/.well-known/cmp/p/ra", session.BuildCertConf(ipView.CertificateDer));
        Assert.True(pkiConf.Status == 200, $"{pkiConf}\n{Node.Diagnostics()}");
        Assert.Equal(PkiBodyType.PkiConf, session.Read(pkiConf.Body).BodyType);
    }

    private static async Task<HttpReply> ExchangeAsync(NetworkStream stream, string path, byte[] body)
    {
        // What OpenSSL 3.0 sends: HTTP/1.0, Host without port, keep-alive.
        string head = $"POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nPragma: no-cache\r\nContent-Type: application/pkixcmp\r\n" +
                      $"Content-Length: {body.Length}\r\nConnection: keep-alive\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body);
        await stream.FlushAsync();
        return await HttpReply.ReadAsync(stream);
    }

    private sealed record HttpReply(string StatusLine, int Status, Dictionary<string, string> Headers, byte[] Body)
    {
        public string? Header(string name) => Headers.GetValueOrDefault(name);

        public override string ToString() => $"{StatusLine}\n{string.Join('\n', Headers.Select(h => $"{h.Key}: {h.Value}"))}";

        public static async Task<HttpReply> ReadAsync(NetworkStream stream)
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var head = new List<byte>();
            byte[] one = new byte[1];
            while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
            {
                if (await stream.ReadAsync(one, cancel.Token) == 0)
                {
                    throw new IOException("connection closed before the response head ended: " + Encoding.ASCII.GetString(head.ToArray()));
                }
                head.Add(one[0]);
            }
            string[] lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string line in lines.Skip(1))
            {
                int colon = line.IndexOf(':');
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
            int status = int.Parse(lines[0].Split(' ')[1]);
            // HTTP/1.0 has no chunked encoding: a kept-alive response must say how long it is.
            Assert.True(headers.TryGetValue("Content-Length", out string? length), "no Content-Length in\n" + string.Join('\n', lines));
            byte[] body = new byte[int.Parse(length)];
            await stream.ReadExactlyAsync(body, cancel.Token);
            return new HttpReply(lines[0], status, headers, body);
        }
    }
}

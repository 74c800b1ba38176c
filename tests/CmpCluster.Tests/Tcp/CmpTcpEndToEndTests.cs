using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Transport;
using CmpCluster.Tests.EndToEnd;
using PkiStatus = Org.BouncyCastle.Asn1.Cmp.PkiStatus;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Tcp;

/// <summary>A node whose CMP-over-TCP listener closes idle connections after 2 s (the shipped default is 60 s).</summary>
public sealed class TcpNodeFixture : IAsyncLifetime
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(2);

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("the node fixture is not started");

    public async Task InitializeAsync() => _node = await NodeProcess.StartAsync(
    [
        $"--Tcp:IdleTimeout={IdleTimeout}",
        "--Tcp:ReadTimeout=00:00:02",
    ]);

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

/// <summary>
/// CMP over TCP against a real node, with the project's own client (<see cref="CmpTcpTransport"/>): the shipped
/// <c>tcp</c> alias (RA mode, HMAC, development secret), EJBCA's cmptcp framing, keep-alive and the transport limits.
/// </summary>
public sealed class CmpTcpEndToEndTests(TcpNodeFixture fixture) : IClassFixture<TcpNodeFixture>
{
    private const string Secret = "changeit";
    private const string Alias = "tcp";

    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task Ir_then_certConf_over_tcp_issues_a_confirmed_certificate()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var session = new CmpClientSession(Secret, Alias);

        byte[] ir = session.BuildEnrollment(initial: true, new X509Name("CN=tcp-device,O=Example"), key);
        byte[] ipDer = await ExchangeAsync(tcp, ir);
        CmpResponseView ip = session.Read(ipDer);

        AssertEchoes(session, ip);
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
        Assert.Equal((int)PkiStatus.Granted, ip.Status!.Status.IntValueExact);
        Assert.False(ip.ImplicitConfirmGranted);
        Assert.True(session.VerifyMac(ipDer), "ip is not MAC-protected with the tcp alias's secret");
        AssertIssuedByNode(ip.CertificateDer, key, ("2.5.4.3", "tcp-device"), ("2.5.4.10", "Example"));

        byte[] certConf = session.BuildCertConf(ip.CertificateDer!);
        byte[] pkiConfDer = await ExchangeAsync(tcp, certConf);
        CmpResponseView pkiConf = session.Read(pkiConfDer);

        AssertEchoes(session, pkiConf);
        Assert.Equal(PkiBodyType.PkiConf, pkiConf.BodyType);
        Assert.True(session.VerifyMac(pkiConfDer), "pkiConf is not MAC-protected");
        Assert.False(tcp.ServerClosed);
    }

    [Fact]
    public async Task Ir_with_implicitConfirm_over_tcp_is_granted_without_certConf()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var session = new CmpClientSession(Secret, Alias);

        CmpResponseView ip = session.Read(await ExchangeAsync(tcp,
            session.BuildEnrollment(initial: true, new X509Name("CN=tcp-implicit"), key, implicitConfirm: true)));

        AssertEchoes(session, ip);
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
        Assert.True(ip.ImplicitConfirmGranted);
        AssertIssuedByNode(ip.CertificateDer, key, ("2.5.4.3", "tcp-implicit"));
    }

    /// <summary>
    /// OpenSSL has no TCP transfer, but it can write its request (<c>-reqout</c>) and check a response read from a file
    /// (<c>-reqin</c> / <c>-rspin</c>): its own ir goes over TCP, and openssl accepts the ip (MAC, nonces, certificate).
    /// </summary>
    [Fact]
    public async Task Openssl_accepts_the_ip_its_ir_got_over_tcp()
    {
        using var dir = new TempDirectory("tcp-openssl");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);
        int closedPort = NodeLaunch.FreeLoopbackPorts(1)[0];
        string[] common = ["-ref", Alias, "-secret", "pass:" + Secret, "-newkey", key, "-subject", "/CN=tcp-openssl", "-implicit_confirm"];
        // Nothing listens on closedPort: openssl writes the request, then fails to send it.
        await OpenSsl.RunAsync(dir.Path, ["cmp", "-cmd", "ir", "-server", $"127.0.0.1:{closedPort}", .. common,
            "-certout", dir.File("unused.pem"), "-reqout", dir.File("ir.der")]);
        Assert.True(File.Exists(dir.File("ir.der")), "openssl wrote no request");

        await using (CmpTcpTransport tcp = await ConnectAsync())
        {
            await File.WriteAllBytesAsync(dir.File("ip.der"), await ExchangeAsync(tcp, await File.ReadAllBytesAsync(dir.File("ir.der"))));
        }
        OpenSslResult result = await OpenSsl.RunAsync(dir.Path, ["cmp", "-cmd", "ir", "-reqin", dir.File("ir.der"), "-rspin", dir.File("ip.der"),
            .. common, "-trusted", Node.RootCaPath, "-certout", dir.File("cert.pem")]);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "received IP", Node);
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", "tcp-openssl")]);
    }

    [Fact]
    public async Task Two_transactions_share_one_kept_alive_connection()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();
        var serials = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var session = new CmpClientSession(Secret, Alias);
            CmpResponseView ip = session.Read(await ExchangeAsync(tcp, session.BuildEnrollment(true, new X509Name($"CN=tcp-keepalive-{i}"), key)));
            AssertEchoes(session, ip);
            Assert.Equal(PkiBodyType.Ip, ip.BodyType);
            CmpResponseView pkiConf = session.Read(await ExchangeAsync(tcp, session.BuildCertConf(ip.CertificateDer!)));
            Assert.Equal(PkiBodyType.PkiConf, pkiConf.BodyType);
            using var certificate = X509CertificateLoader.LoadCertificate(ip.CertificateDer!);
            serials.Add(certificate.SerialNumber);
        }

        Assert.False(tcp.ServerClosed);
        Assert.NotEqual(serials[0], serials[1]);
    }

    [Fact]
    public async Task A_cmp_level_error_travels_as_pkiRep_and_keeps_the_connection()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var wrong = new CmpClientSession("wrong-secret", Alias);

        CmpResponseView error = wrong.Read(await ExchangeAsync(tcp, wrong.BuildEnrollment(true, new X509Name("CN=tcp-wrong"), key)));

        AssertEchoes(wrong, error);
        Assert.Equal(PkiBodyType.Error, error.BodyType);
        Assert.Contains(PkiFailureInfo.BadMessageCheck, error.FailInfo);
        Assert.True(error.VerifySignature(E2e.DerOfPem(Node.CmpSignerPath)), "the error is not signed by the CMP signer");

        var right = new CmpClientSession(Secret, Alias);
        CmpResponseView ip = right.Read(await ExchangeAsync(tcp, right.BuildEnrollment(true, new X509Name("CN=tcp-after-error"), key)));
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
    }

    [Fact]
    public async Task The_clients_closeConnection_flag_is_answered_with_it_and_a_close()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var session = new CmpClientSession(Secret, Alias);

        await tcp.SendAsync(CmpTcpFrame.Request(session.BuildEnrollment(true, new X509Name("CN=tcp-close"), key, implicitConfirm: true), closeConnection: true));
        CmpTcpFrame response = await tcp.ReceiveAsync();

        Assert.Equal(CmpTcpMessageType.PkiRep, response.Type);
        Assert.True(response.CloseConnection);
        Assert.Equal(PkiBodyType.Ip, session.Read(response.Value).BodyType);
        Assert.True(await tcp.WaitForCloseAsync(TimeSpan.FromSeconds(10)), Node.Diagnostics());
    }

    [Fact]
    public async Task An_oversized_frame_is_refused_with_errorMsgRep_before_its_value_is_sent()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();
        var header = new byte[CmpTcpFrame.HeaderSize];
        // Cmp:Limits:MaxMessageBytes is 65536 in the shipped settings; announce one byte more and send no value.
        BinaryPrimitives.WriteUInt32BigEndian(header, 65536 + 1 + 3);
        header[4] = CmpTcpFrame.Version10;

        await tcp.Stream.WriteAsync(header);
        CmpTcpFrame response = await tcp.ReceiveAsync();

        AssertError(response, CmpTcpError.MessageTooLarge);
        Assert.True(await tcp.WaitForCloseAsync(TimeSpan.FromSeconds(10)), Node.Diagnostics());
    }

    [Fact]
    public async Task An_http_request_on_the_tcp_port_reads_as_an_oversized_frame()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();

        // "POST" is 0x504F5354: a 1.3 GB length.
        await tcp.Stream.WriteAsync(Encoding.ASCII.GetBytes("POST /.well-known/cmp/p/tcp HTTP/1.0\r\n\r\n"));

        AssertError(await tcp.ReceiveAsync(), CmpTcpError.MessageTooLarge);
    }

    [Fact]
    public async Task A_frame_whose_value_is_not_der_is_refused_with_errorMsgRep_and_a_close()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();

        await tcp.SendAsync(CmpTcpFrame.Request(Encoding.ASCII.GetBytes("this is not a PKIMessage")));
        CmpTcpFrame response = await tcp.ReceiveAsync();

        AssertError(response, CmpTcpError.BadMessage);
        Assert.True(await tcp.WaitForCloseAsync(TimeSpan.FromSeconds(10)), Node.Diagnostics());
    }

    [Theory]
    [InlineData(0, CmpTcpMessageType.PkiReq, CmpTcpError.VersionNotSupported)]   // RFC 2510 §5.2 framing
    [InlineData(10, CmpTcpMessageType.PollReq, CmpTcpError.MessageTypeNotSupported)]
    public async Task An_unsupported_version_or_message_type_is_refused_with_errorMsgRep(byte version, CmpTcpMessageType type, CmpTcpError expected)
    {
        await using CmpTcpTransport tcp = await ConnectAsync();

        await tcp.SendAsync(new CmpTcpFrame(version, 0, type, [0x30, 0x00]));

        AssertError(await tcp.ReceiveAsync(), expected);
        Assert.True(await tcp.WaitForCloseAsync(TimeSpan.FromSeconds(10)), Node.Diagnostics());
    }

    [Fact]
    public async Task An_idle_connection_is_closed_after_the_idle_timeout()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();
        var elapsed = Stopwatch.StartNew();

        bool closed = await tcp.WaitForCloseAsync(TimeSpan.FromSeconds(20));

        Assert.True(closed, $"still open after 20 s\n{Node.Diagnostics()}");
        Assert.True(elapsed.Elapsed >= TcpNodeFixture.IdleTimeout - TimeSpan.FromMilliseconds(200), $"closed after {elapsed.Elapsed}");
    }

    [Fact]
    public async Task A_frame_that_stops_halfway_is_closed_after_the_read_timeout()
    {
        await using CmpTcpTransport tcp = await ConnectAsync();
        byte[] frame = CmpTcpFrame.Request(new byte[200]).Encode();

        await tcp.Stream.WriteAsync(frame.AsMemory(0, 50));

        Assert.True(await tcp.WaitForCloseAsync(TimeSpan.FromSeconds(20)), Node.Diagnostics());
    }

    private Task<CmpTcpTransport> ConnectAsync() => CmpTcpTransport.ConnectAsync("127.0.0.1", Node.TcpPort);

    private async Task<byte[]> ExchangeAsync(CmpTcpTransport tcp, byte[] request)
    {
        try
        {
            return await tcp.ExchangeAsync(request);
        }
        catch (CmpTcpTransportException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{Node.Diagnostics()}");
        }
    }

    /// <summary>RFC 9810 §5.1.1: transactionID echoed; recipNonce is the request's senderNonce; a fresh senderNonce.</summary>
    private static void AssertEchoes(CmpClientSession session, CmpResponseView response)
    {
        Assert.Equal(session.TransactionId, response.TransactionId);
        Assert.Equal(session.LastSenderNonce, response.RecipNonce);
        Assert.NotNull(response.SenderNonce);
        Assert.True(response.SenderNonce!.Length >= 16);
    }

    private static void AssertError(CmpTcpFrame response, CmpTcpError expected)
    {
        Assert.Equal(CmpTcpMessageType.ErrorMsgRep, response.Type);
        Assert.Equal(CmpTcpFrame.Version10, response.Version);
        Assert.True(response.CloseConnection, "errorMsgRep must announce the close");
        Assert.Equal(expected, response.ReadError()?.Code);
    }

    /// <summary>Requested subject (RDNs in encoded order) and key, issued and signed by the node's issuing CA.</summary>
    private void AssertIssuedByNode(byte[]? certificateDer, ECDsa key, params (string Oid, string Value)[] subject)
    {
        Assert.NotNull(certificateDer);
        using var certificate = X509CertificateLoader.LoadCertificate(certificateDer);
        using X509Certificate2 issuing = E2e.LoadCertificate(Node.IssuingCaPath);
        Assert.Equal(subject.Select(r => (r.Oid, (string?)r.Value)).ToArray(), E2e.Rdns(certificate.SubjectName));
        Assert.Equal(issuing.SubjectName.RawData, certificate.IssuerName.RawData);
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), certificate.PublicKey.ExportSubjectPublicKeyInfo());
        var parser = new Org.BouncyCastle.X509.X509CertificateParser();
        parser.ReadCertificate(certificateDer).Verify(parser.ReadCertificate(issuing.RawData).GetPublicKey());
    }
}

/// <summary>Host shutdown (SIGTERM) with TCP connections open: the listener stops first and the node exits on its own.</summary>
public sealed class CmpTcpShutdownTests
{
    [Fact]
    public async Task Sigterm_closes_open_tcp_connections_and_the_node_exits_cleanly()
    {
        await using NodeProcess node = await NodeProcess.StartAsync();
        await using CmpTcpTransport idle = await CmpTcpTransport.ConnectAsync("127.0.0.1", node.TcpPort);
        await using CmpTcpTransport used = await CmpTcpTransport.ConnectAsync("127.0.0.1", node.TcpPort);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var session = new CmpClientSession("changeit", "tcp");
        Assert.Equal(PkiBodyType.Ip, session.Read(await used.ExchangeAsync(
            session.BuildEnrollment(true, new X509Name("CN=tcp-shutdown"), key, implicitConfirm: true))).BodyType);

        bool exitedOnItsOwn = await node.StopAsync(TimeSpan.FromSeconds(30));

        Assert.True(exitedOnItsOwn, node.Diagnostics());
        Assert.True(await idle.WaitForCloseAsync(TimeSpan.FromSeconds(5)), node.Diagnostics());
        Assert.True(await used.WaitForCloseAsync(TimeSpan.FromSeconds(5)), node.Diagnostics());
        Assert.Contains("CMP over TCP listening on 127.0.0.1:" + node.TcpPort, node.Output);
    }
}

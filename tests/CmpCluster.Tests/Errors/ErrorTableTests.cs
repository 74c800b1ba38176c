using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Protection;
using CmpCluster.Tests.Grains;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using static CmpCluster.Tests.Grains.LifecycleDevices;
using BigInteger = Org.BouncyCastle.Math.BigInteger;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Errors;

/// <summary>
/// The rows of EJBCA's CMP documentation, "CMP Error Messages", that no other test showed: each test names the answer
/// docs/ERRORS.md gives for its row.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class ErrorTableTests(CmpClusterFixture cluster)
{
    private static (CmpClientSession Session, byte[] Ir) DeviceIr()
    {
        CmpClientSession device = CmpClusterFixture.NewSession();
        return (device, device.BuildEnrollment(true, new X509Name($"CN=errors-{Guid.NewGuid():N},O=Example"), NewKey(), implicitConfirm: true));
    }

    /// <summary>Sends hand-built bytes to the transaction grain of <paramref name="transactionId"/> and reads the answer.</summary>
    private async Task<CmpResponseView> SendRawAsync(string alias, byte[] transactionId, byte[] der)
    {
        byte[] response = await cluster.Client.GetGrain<ICmpTransactionGrain>(GrainKeys.Transaction(alias, transactionId))
            .HandleAsync(new CmpRequest(alias, der));
        return CmpResponseView.Parse(response);
    }

    [Fact]
    public async Task A_nested_message_whose_signature_does_not_verify_is_badMessageCheck_and_its_inner_request_is_not_handled()
    {
        Device administrator = await EnrolledAsync(cluster, Aliases.RaAdministrator);
        // The administrator's certificate first in extraCerts, but the signature made by another key.
        CmpClientSession forger = new CmpClientSession("unused", "forger").SignWith(NewKey(), administrator.Certificate);
        (CmpClientSession device, byte[] ir) = DeviceIr();

        Exchange error = await cluster.SendAsync(Aliases.RaAdmin, forger, forger.BuildNested(ir));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
        ProtocolAssert.AnswersLastRequest(error.View, forger);
        Assert.True(error.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        Assert.Equal(TransactionPhase.New, (await cluster.SnapshotAsync(Aliases.RaAdmin, device)).Phase);
    }

    [Fact]
    public async Task A_body_tag_RFC_9810_does_not_define_gets_a_signed_badRequest()
    {
        byte[] transactionId = RandomNumberGenerator.GetBytes(16);
        PkiHeader header = new PkiHeaderBuilder(2, new GeneralName(new X509Name("CN=cmp-client")), new GeneralName(X509Name.GetInstance(new DerSequence())))
            .SetProtectionAlg(PasswordBasedMac.NewAlgorithm(iterations: 500))
            .SetTransactionID(transactionId)
            .SetSenderNonce(RandomNumberGenerator.GetBytes(16))
            .SetMessageTime(new Asn1GeneralizedTime(DateTime.UtcNow))
            .Build();
        byte[] der = new DerSequence(header, new DerTaggedObject(true, 27, DerNull.Instance), new DerTaggedObject(true, 0, new DerBitString(new byte[32])))
            .GetEncoded(Asn1Encodable.Der);

        CmpResponseView view = await SendRawAsync(Aliases.Pbe, transactionId, der);

        ProtocolAssert.Rejected(view, PkiFailureInfo.BadRequest);
        // The header could not be read as part of a PKIMessage: the answer echoes the routed transactionID only.
        Assert.Equal(transactionId, view.TransactionId);
        Assert.True(view.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
    }

    [Theory]
    [InlineData(PkiBody.TYPE_KEY_RECOVERY_REQ)]
    [InlineData(PkiBody.TYPE_CROSS_CERT_REQ)]
    public async Task A_request_type_this_CA_does_not_serve_is_badRequest_and_opens_nothing(int bodyType)
    {
        using ECDsa key = NewKey();
        CmpClientSession session = CmpClusterFixture.NewSession();
        var messages = CertReqMessages.GetInstance(RawRequests.Ir(key, new X509Name($"CN=errors-{Guid.NewGuid():N}"), BigInteger.Zero).Content);
        RawRequest request = RawRequests.Protect(session.TransactionId, new PkiBody(bodyType, messages));

        CmpResponseView view = await SendRawAsync(Aliases.Pbe, session.TransactionId, request.Der);

        ProtocolAssert.Rejected(view, PkiFailureInfo.BadRequest);
        ProtocolAssert.Answers(view, session.TransactionId, request.SenderNonce);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.Pbe, session)).CertificateKeys);
    }

    [Fact]
    public async Task An_RA_message_signed_with_a_revoked_RA_certificate_is_badRequest()
    {
        Device administrator = await EnrolledAsync(cluster, Aliases.RaAdministrator);
        await cluster.Internal.GetGrain<ICertificateGrain>(administrator.CertificateKey)
            .RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "test"));
        CmpClientSession ra = administrator.Signer();
        (CmpClientSession device, byte[] ir) = DeviceIr();

        Exchange error = await cluster.SendAsync(Aliases.RaAdmin, ra, ra.BuildNested(ir));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadRequest);
        Assert.True(error.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        Assert.Equal(TransactionPhase.New, (await cluster.SnapshotAsync(Aliases.RaAdmin, device)).Phase);
    }

    [Fact]
    public async Task An_RA_message_signed_with_an_expired_RA_certificate_is_badRequest()
    {
        using ECDsa key = NewKey();
        // Not an RA administrator's certificate either (that would be notAuthorized): validity is checked first.
        byte[] expired = await ExpiredCertificateAsync(key);
        CmpClientSession ra = new CmpClientSession("unused", "expired-ra").SignWith(key, expired);
        (CmpClientSession device, byte[] ir) = DeviceIr();

        Exchange error = await cluster.SendAsync(Aliases.RaAdmin, ra, ra.BuildNested(ir));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadRequest);
        Assert.Equal(TransactionPhase.New, (await cluster.SnapshotAsync(Aliases.RaAdmin, device)).Phase);
    }

    /// <summary>
    /// docs/ERRORS.md lists this answer as a difference: on an RA alias whose modules are EndEntityCertificate then HMAC,
    /// the failure of the last module tried is the one answered, so the revoked certificate's badRequest is lost.
    /// </summary>
    [Fact]
    public async Task An_ir_signed_with_a_revoked_RA_certificate_on_an_alias_that_tries_HMAC_next_gets_the_HMAC_modules_badMessageCheck()
    {
        Device administrator = await EnrolledAsync(cluster, Aliases.RaAdministrator);
        await cluster.Internal.GetGrain<ICertificateGrain>(administrator.CertificateKey)
            .RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "test"));
        CmpClientSession ra = administrator.Signer();

        Exchange error = await cluster.SendAsync(Aliases.RaAdmin, ra, ra.BuildEnrollment(true, new X509Name($"CN=errors-{Guid.NewGuid():N}"), NewKey()));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.RaAdmin, ra)).CertificateKeys);
    }

    /// <summary>
    /// A subjectAltName extension whose value is not GeneralNames is read before it is copied from the template and
    /// refused with badRequest, as in EJBCA's CMP error table. Nothing is issued and a client-mode end entity keeps its code.
    /// </summary>
    [Theory]
    [InlineData(Aliases.Client)]
    [InlineData(Aliases.Pbe)]
    public async Task An_undecodable_subjectAltName_in_the_template_is_badRequest_and_issues_nothing(string alias)
    {
        (string secret, X509Name subject, string? username) = await RequesterAsync(alias);
        using ECDsa key = NewKey();
        byte[] transactionId = RandomNumberGenerator.GetBytes(16);
        RawRequest request = RawRequests.Protect(transactionId, IrWithExtension(key, subject, X509Extensions.SubjectAlternativeName), secret);

        CmpResponseView view = await SendRawAsync(alias, transactionId, request.Der);

        ProtocolAssert.Rejected(view, PkiFailureInfo.BadRequest);
        ProtocolAssert.Answers(view, transactionId, request.SenderNonce);
        Assert.Empty((await cluster.Internal.GetGrain<ITransactionControlGrain>(GrainKeys.Transaction(alias, transactionId)).GetSnapshotAsync()).CertificateKeys);
        if (username is not null)
        {
            EndEntityView endEntity = (await EndEntityAsync(cluster, username))!;
            Assert.Equal((EndEntityStatus.New, false), (endEntity.Status, endEntity.EnrollmentOpen));
        }
    }

    /// <summary>Where the profile takes the request's key usage (AllowKeyUsageOverride), it is read before it is used: a
    /// value that is not a KeyUsage is badRequest, and nothing is issued.</summary>
    [Fact]
    public async Task An_undecodable_key_usage_where_the_profile_takes_it_is_badRequest_and_issues_nothing()
    {
        // KeyID: the senderKID names the profile "usage-override".
        var session = new CmpClientSession(Aliases.Secret, "usage-override");
        var extensions = new X509ExtensionsGenerator();
        extensions.AddExtension(X509Extensions.KeyUsage, true, DerNull.Instance);
        using ECDsa key = NewKey();

        Exchange error = await cluster.SendAsync(Aliases.KeyIdProfile, session, session.BuildEnrollment(true,
            new X509Name($"CN=errors-{Guid.NewGuid():N}"), key, overrides: new RequestOverrides { TemplateExtensions = extensions.Generate() }));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadRequest);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.KeyIdProfile, session)).CertificateKeys);
    }

    /// <summary>Extensions other than subjectAltName are not read from the template where the profile decides them, so
    /// an undecodable keyUsage is never looked at and the certificate carries the profile's.</summary>
    [Fact]
    public async Task An_undecodable_extension_other_than_subjectAltName_is_not_read_and_the_profile_decides()
    {
        (string secret, X509Name subject, _) = await RequesterAsync(Aliases.Client);
        using ECDsa key = NewKey();
        byte[] transactionId = RandomNumberGenerator.GetBytes(16);
        RawRequest request = RawRequests.Protect(transactionId, IrWithExtension(key, subject, X509Extensions.KeyUsage), secret);

        CmpResponseView view = await SendRawAsync(Aliases.Client, transactionId, request.Der);

        // Granted with mods (RFC 9810 §5.2.3): the requested extension is not what the certificate carries.
        Assert.Equal(PkiBodyType.Ip, view.BodyType);
        Assert.Equal((int)Org.BouncyCastle.Asn1.Cmp.PkiStatus.GrantedWithMods, view.Status!.Status.IntValueExact);
        byte[] der = view.CertificateDer!;
        bool[] keyUsage = new Org.BouncyCastle.X509.X509Certificate(der).GetKeyUsage();
        Assert.True(keyUsage is [true, _, _, _, true, ..], "the profile's digitalSignature and keyAgreement");
        RawRequest confirmation = RawRequests.Protect(transactionId, RawRequests.CertConf(RawRequests.Accept(der)), secret, recipNonce: view.SenderNonce);
        Assert.Equal(PkiBodyType.PkiConf, (await SendRawAsync(Aliases.Client, transactionId, confirmation.Der)).BodyType);
    }

    [Fact]
    public async Task A_request_for_server_generated_keys_on_an_alias_without_them_is_badRequest()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        // RFC 9483 §4.1.6: a request for a key pair generated by the CA has no publicKey (or one without its BIT STRING) and no POP.
        CertTemplate template = new CertTemplateBuilder().SetSubject(new X509Name($"CN=errors-{Guid.NewGuid():N}")).Build();
        var body = new PkiBody(PkiBody.TYPE_INIT_REQ, new CertReqMessages(new CertReqMsg(new CertRequest(0, template, null), null, null)));
        RawRequest request = RawRequests.Protect(session.TransactionId, body);

        CmpResponseView view = await SendRawAsync(Aliases.Pbe, session.TransactionId, request.Der);

        ProtocolAssert.Rejected(view, PkiFailureInfo.BadRequest);
        ProtocolAssert.Answers(view, session.TransactionId, request.SenderNonce);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.Pbe, session)).CertificateKeys);
    }

    /// <summary>Client mode: a registered end entity and its code; RA mode: the alias secret and a fresh subject.</summary>
    private async Task<(string Secret, X509Name Subject, string? Username)> RequesterAsync(string alias)
    {
        if (alias != Aliases.Client)
        {
            return (Aliases.Secret, new X509Name($"CN=errors-{Guid.NewGuid():N},O=Example"), null);
        }
        string username = "errors-" + Guid.NewGuid().ToString("N")[..10];
        var subject = new X509Name($"CN={username},O=Example");
        await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username))
            .RegisterAsync(new EndEntityRegistration(subject.ToString(), [], "issuing", "default", "default", "code-" + username), replace: false);
        return ("code-" + username, subject, username);
    }

    /// <summary>An ir with signature POP whose template carries <paramref name="extension"/> with a NULL as its value.</summary>
    private static PkiBody IrWithExtension(ECDsa key, X509Name subject, DerObjectIdentifier extension)
    {
        var extensions = new X509ExtensionsGenerator();
        extensions.AddExtension(extension, false, DerNull.Instance);
        CertTemplate template = new CertTemplateBuilder()
            .SetSubject(subject)
            .SetSubjectPublicKeyInfo(SubjectPublicKeyInfo.GetInstance(key.ExportSubjectPublicKeyInfo()))
            .SetExtensions(extensions.Generate())
            .Build();
        var request = new CertRequest(0, template, null);
        var signer = new KeySigner(key);
        var pop = new ProofOfPossession(new PopoSigningKey(null, signer.Algorithm, new DerBitString(signer.Sign(request.GetEncoded(Asn1Encodable.Der)))));
        return new PkiBody(PkiBody.TYPE_INIT_REQ, new CertReqMessages(new CertReqMsg(request, pop, null)));
    }

    /// <summary>A certificate of the issuing CA, confirmed in the store, whose validity ended yesterday.</summary>
    private async Task<byte[]> ExpiredCertificateAsync(ECDsa key)
    {
        var serial = new BigInteger(1, RandomNumberGenerator.GetBytes(16));
        string serialHex = serial.ToString(16).ToUpperInvariant();
        var subject = new X509Name($"CN=expired-{serialHex},O=Example");
        SubjectPublicKeyInfo publicKey = SubjectPublicKeyInfo.GetInstance(key.ExportSubjectPublicKeyInfo());
        var tbs = new V3TbsCertificateGenerator();
        tbs.SetSerialNumber(new DerInteger(serial));
        tbs.SetSignature(cluster.Ca.Ca.Signer.Algorithm);
        tbs.SetIssuer(cluster.Ca.Ca.Certificate.Subject);
        tbs.SetStartDate(new Time(DateTime.UtcNow.AddDays(-30)));
        tbs.SetEndDate(new Time(DateTime.UtcNow.AddDays(-1)));
        tbs.SetSubject(subject);
        tbs.SetSubjectPublicKeyInfo(publicKey);
        var intent = new CertificateIntent(cluster.Ca.Name, serialHex, subject.ToString(), "test", "test/expired", DateTimeOffset.UtcNow,
            null, "default", SHA256.HashData(publicKey.GetEncoded(Asn1Encodable.Der)));
        return await cluster.Internal.GetGrain<ICertificateGrain>(GrainKeys.Certificate(cluster.Ca.Name, serialHex))
            .IssueAsync(intent, tbs.GenerateTbsCertificate().GetEncoded(Asn1Encodable.Der), confirmed: true)
            ?? throw new InvalidOperationException("the certificate grain refused the expired certificate");
    }
}

using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Grains.Internal;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.ServerKeys;
using CmpCluster.Tests.EndToEnd;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cms;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Cms;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Xunit;
using static CmpCluster.Tests.Grains.LifecycleDevices;
using ContentInfo = Org.BouncyCastle.Asn1.Cms.ContentInfo;
using SignedData = Org.BouncyCastle.Asn1.Cms.SignedData;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Server-generated keys (RFC 9483 §4.1.6; EJBCA's CMP documentation, "Server Generated Keys"): the CA generates the key
/// pair per the profile, certifies it, and returns the private key encrypted to the requester. Each delivery form is
/// opened the way a client would: the system <c>openssl cms</c> and BouncyCastle, and the key must be the certificate's.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class ServerKeyTests(CmpClusterFixture cluster)
{
    private static X509Name NewSubject() => new($"CN=kga-{Guid.NewGuid():N},O=Example");

    /// <summary>RA-mode HMAC whose senderKID names the certificate profile the key follows.</summary>
    private static CmpClientSession Ra(string profile) => new(Aliases.Secret, profile);

    [Fact]
    public async Task A_MAC_protected_ir_without_a_key_gets_a_P384_key_in_a_password_envelope_that_openssl_opens()
    {
        CmpClientSession session = Ra("ec-p384");
        X509Name subject = NewSubject();

        Exchange ip = await cluster.SendAsync(Aliases.ServerKeys, session, session.BuildServerKeyEnrollment(true, subject, implicitConfirm: true));

        byte[] certificate = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.Equal(3, ip.View.Pvno); // RFC 9480 §2.20: EnvelopedData → cmp2021
        EnvelopedData envelope = EnvelopeOf(ip.View);
        var password = PasswordRecipientInfo.GetInstance(Assert.Single(envelope.RecipientInfos.Cast<Asn1Encodable>()).ToAsn1Object() is Asn1TaggedObject tagged
            ? tagged.GetBaseObject() : throw new Xunit.Sdk.XunitException("not a tagged RecipientInfo"));
        Assert.Equal(KeyPackage.PasswordKeyWrap, password.KeyEncryptionAlgorithm.Algorithm);

        byte[] opened = await OpenWithOpenSslAsync(envelope, "-pwri_password", Aliases.Secret);
        byte[] byBouncyCastle = OpenPasswordEnvelope(envelope, password, Aliases.Secret);
        Assert.Equal(opened, SignedContent(byBouncyCastle));

        using ECDsa key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(PrivateKeyInfoOf(opened), out _);
        Assert.Equal(384, key.KeySize);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(certificate, cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, KeyOf(certificate)))!.Status);
    }

    [Fact]
    public async Task A_cr_naming_RSA_gets_a_2048_bit_key_and_is_confirmed_with_certConf()
    {
        CmpClientSession session = Ra("rsa-2048");
        X509Name subject = NewSubject();
        var rsaOnly = new SubjectPublicKeyInfo(new AlgorithmIdentifier(PkcsObjectIdentifiers.RsaEncryption, DerNull.Instance), Array.Empty<byte>());

        Exchange cp = await cluster.SendAsync(Aliases.ServerKeys, session, session.BuildServerKeyEnrollment(false, subject, rsaOnly));

        byte[] certificate = ProtocolAssert.Granted(cp.View, PkiBodyType.Cp);
        byte[] package = await OpenWithOpenSslAsync(EnvelopeOf(cp.View), "-pwri_password", Aliases.Secret);
        using RSA key = RSA.Create();
        key.ImportPkcs8PrivateKey(PrivateKeyInfoOf(package), out _);
        Assert.Equal(2048, key.KeySize);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(certificate, cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await RecordAsync(cluster, KeyOf(certificate)))!.Status);

        Exchange confirmation = await cluster.SendAsync(Aliases.ServerKeys, session, session.BuildCertConf(certificate));

        Assert.Equal(PkiBodyType.PkiConf, confirmation.View.BodyType);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, KeyOf(certificate)))!.Status);
    }

    [Fact]
    public async Task A_request_signed_with_an_EC_certificate_gets_its_key_by_key_agreement_signed_by_the_CMP_signer()
    {
        Device administrator = await EnrolledAsync(cluster, Aliases.RaAdministrator);
        CmpClientSession session = administrator.Signer();
        X509Name subject = NewSubject();

        Exchange ip = await cluster.SendAsync(Aliases.ServerKeysSigned, session, session.BuildServerKeyEnrollment(true, subject, implicitConfirm: true));

        byte[] certificate = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        EnvelopedData envelope = EnvelopeOf(ip.View);
        string folder = WriteKeyAndCertificate(administrator.Key.ExportPkcs8PrivateKey(), administrator.Certificate);
        byte[] package = await OpenWithOpenSslAsync(envelope, "-inkey", Path.Combine(folder, "key.pem"), "-recip", Path.Combine(folder, "cert.pem"));
        // BouncyCastle's CMS opens the key agreement with the administrator's private key (RFC 5753).
        var cms = new CmsEnvelopedData(new ContentInfo(CmsObjectIdentifiers.EnvelopedData, envelope));
        RecipientInformation recipient = Assert.Single(cms.GetRecipientInfos().GetRecipients());
        Assert.IsType<KeyAgreeRecipientInformation>(recipient);
        byte[] signed = recipient.GetContent(PrivateKeyFactory.CreateKey(administrator.Key.ExportPkcs8PrivateKey()));
        // The key generation authority is the CMP signer, whose certificate says so (id-kp-cmKGA, RFC 9483 §4.1.6).
        var signedData = new CmsSignedData(new ContentInfo(CmsObjectIdentifiers.SignedData, Asn1Object.FromByteArray(signed)));
        SignerInformation signer = Assert.Single(signedData.GetSignerInfos().GetSigners());
        var kga = new Org.BouncyCastle.X509.X509Certificate(cluster.Ca.CmpSigner.CertificateDer);
        Assert.True(signer.Verify(kga));
        Assert.Contains("1.3.6.1.5.5.7.3.32", kga.GetExtendedKeyUsage().Select(oid => oid.Id));
        Assert.Equal(KeyPackage.AsymmetricKeyPackage.Id, signedData.SignedContentType.Id);
        Assert.Equal(package, SignedContent(signed));
        using ECDsa key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(PrivateKeyInfoOf(package), out _);
        Assert.Equal(256, key.KeySize);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(certificate, cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public async Task A_request_signed_with_an_RSA_certificate_gets_its_key_by_key_transport()
    {
        using RSA administratorKey = RSA.Create(2048);
        byte[] administratorCertificate = await EnrolledRsaAsync(Aliases.RaAdministratorRsa, administratorKey);
        CmpClientSession session = new CmpClientSession("unused", Aliases.RaAdministratorRsa).SignWith(administratorKey, administratorCertificate);
        X509Name subject = NewSubject();

        Exchange ip = await cluster.SendAsync(Aliases.ServerKeysSigned, session, session.BuildServerKeyEnrollment(true, subject, implicitConfirm: true));

        byte[] certificate = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        EnvelopedData envelope = EnvelopeOf(ip.View);
        var cms = new CmsEnvelopedData(new ContentInfo(CmsObjectIdentifiers.EnvelopedData, envelope));
        RecipientInformation recipient = Assert.Single(cms.GetRecipientInfos().GetRecipients());
        Assert.IsType<KeyTransRecipientInformation>(recipient);
        byte[] signed = recipient.GetContent(PrivateKeyFactory.CreateKey(administratorKey.ExportPkcs8PrivateKey()));

        string folder = WriteKeyAndCertificate(administratorKey.ExportPkcs8PrivateKey(), administratorCertificate);
        byte[] package = await OpenWithOpenSslAsync(envelope, "-inkey", Path.Combine(folder, "key.pem"), "-recip", Path.Combine(folder, "cert.pem"));
        Assert.Equal(package, SignedContent(signed));
        using ECDsa key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(PrivateKeyInfoOf(package), out _);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(certificate, cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public async Task A_legacy_request_with_protocolEncrKey_gets_an_EncryptedValue_to_that_key()
    {
        using RSA transportKey = RSA.Create(2048);
        CmpClientSession session = Ra("ec-p384");
        X509Name subject = NewSubject();
        var controls = new Controls(new AttributeTypeAndValue(CrmfObjectIdentifiers.id_regCtrl_protocolEncrKey,
            SubjectPublicKeyInfo.GetInstance(transportKey.ExportSubjectPublicKeyInfo())));

        Exchange ip = await cluster.SendAsync(Aliases.ServerKeys, session, session.BuildServerKeyEnrollment(true, subject, implicitConfirm: true, controls: controls));

        byte[] certificate = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.Equal(2, ip.View.Pvno);
        EncryptedKey privateKey = Assert.IsType<EncryptedKey>(ip.View.PrivateKey);
        Assert.True(privateKey.IsEncryptedValue);
        var value = EncryptedValue.GetInstance(privateKey.Value);
        byte[] symmetricKey = transportKey.Decrypt(value.EncSymmKey.GetBytes(), RSAEncryptionPadding.Pkcs1);
        using var aes = Aes.Create();
        aes.Key = symmetricKey;
        byte[] privateKeyInfo = aes.DecryptCbc(value.EncValue.GetBytes(), Asn1OctetString.GetInstance(value.SymmAlg.Parameters).GetOctets(), PaddingMode.PKCS7);
        using ECDsa key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(privateKeyInfo, out _);
        Assert.Equal(X9ObjectIdentifiers.IdECPublicKey, value.IntendedAlg.Algorithm);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(certificate, cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public async Task A_request_that_waits_for_approval_gets_its_key_generated_in_the_answer_to_the_poll()
    {
        CmpClientSession session = Ra("approval-p256");
        X509Name subject = NewSubject();
        Exchange waiting = await cluster.SendAsync(Aliases.ServerKeys, session, session.BuildServerKeyEnrollment(true, subject));
        Assert.Equal((int)Org.BouncyCastle.Asn1.Cmp.PkiStatus.Waiting, waiting.View.Status!.Status.IntValueExact);
        Assert.Null(waiting.View.PrivateKey);

        Assert.True(await cluster.Control(Aliases.ServerKeys, session).DecideApprovalAsync(true, "test operator"));
        Exchange ip = await cluster.SendAsync(Aliases.ServerKeys, session, session.BuildPollReq());

        byte[] certificate = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        EnvelopedData envelope = EnvelopeOf(ip.View);
        var password = PasswordRecipientInfo.GetInstance(((Asn1TaggedObject)envelope.RecipientInfos[0].ToAsn1Object()).GetBaseObject());
        using ECDsa key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(PrivateKeyInfoOf(SignedContent(OpenPasswordEnvelope(envelope, password, Aliases.Secret))), out _);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(certificate, cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public async Task A_retransmitted_request_gets_the_same_answer_and_no_second_key()
    {
        CmpClientSession session = Ra("ec-p384");
        byte[] request = session.BuildServerKeyEnrollment(true, NewSubject());

        Exchange first = await cluster.SendAsync(Aliases.ServerKeys, session, request);
        Exchange again = await cluster.SendAsync(Aliases.ServerKeys, session, request);

        Assert.Equal(first.Response, again.Response);
        Assert.Single((await cluster.SnapshotAsync(Aliases.ServerKeys, session)).CertificateKeys);
    }

    public static TheoryData<string, string, PkiFailureInfo> Refusals => new()
    {
        // EJBCA's CMP error table, rows "A request for server generated keys ...": badRequest each time.
        { Aliases.Pbe, "", PkiFailureInfo.BadRequest },                // not enabled on the alias
        { Aliases.ServerKeys, "default", PkiFailureInfo.BadRequest },  // the profile allows EC and RSA: no single choice
        { Aliases.ServerKeys, "ec-any", PkiFailureInfo.BadRequest },   // EC, but three curves and the request names none
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_request_without_a_key_and_no_single_key_choice_is_badRequest_and_issues_nothing(string alias, string profile, PkiFailureInfo expected)
    {
        CmpClientSession session = profile.Length == 0 ? CmpClusterFixture.NewSession() : Ra(profile);

        Exchange error = await cluster.SendAsync(alias, session, session.BuildServerKeyEnrollment(true, NewSubject()));

        ProtocolAssert.Rejected(error.View, expected);
        Assert.Empty((await cluster.SnapshotAsync(alias, session)).CertificateKeys);
    }

    public static TheoryData<string, string> RequestedKeys => new()
    {
        // a curve the profile does not allow (P-256 under "ec-p384"): EJBCA's row "key algorithm, key size or curve is not allowed"
        { "ec-p384", "ec-p256" },
        // RSA under an EC-only profile
        { "ec-p384", "rsa" },
        // explicit EC parameters instead of a named curve: "invalid or unsupported key parameters"
        { "ec-p384", "ec-explicit" },
        // an algorithm the CA does not generate (Ed25519)
        { "default", "ed25519" },
        // RSA with a range of sizes: no single size
        { "default", "rsa" },
    };

    [Theory]
    [MemberData(nameof(RequestedKeys))]
    public async Task A_requested_key_the_profile_does_not_allow_is_badRequest(string profile, string requested)
    {
        CmpClientSession session = Ra(profile);
        SubjectPublicKeyInfo algorithmOnly = requested switch
        {
            "ec-p256" => new(new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, SecObjectIdentifiers.SecP256r1), Array.Empty<byte>()),
            "rsa" => new(new AlgorithmIdentifier(PkcsObjectIdentifiers.RsaEncryption, DerNull.Instance), Array.Empty<byte>()),
            "ec-explicit" => new(new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, new DerSequence(DerInteger.One)), Array.Empty<byte>()),
            _ => new(new AlgorithmIdentifier(new DerObjectIdentifier("1.3.101.112")), Array.Empty<byte>()),
        };

        Exchange error = await cluster.SendAsync(Aliases.ServerKeys, session, session.BuildServerKeyEnrollment(true, NewSubject(), algorithmOnly));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadRequest);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.ServerKeys, session)).CertificateKeys);
    }

    [Fact]
    public async Task A_profile_that_does_not_exist_is_notAuthorized_before_any_key_is_generated()
    {
        CmpClientSession session = Ra("no-such-profile");

        Exchange error = await cluster.SendAsync(Aliases.ServerKeys, session, session.BuildServerKeyEnrollment(true, NewSubject()));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.ServerKeys, session)).CertificateKeys);
    }

    [Fact]
    public async Task A_request_for_a_server_key_with_a_signature_POP_is_badPOP()
    {
        CmpClientSession session = Ra("ec-p384");
        using ECDsa unrelated = NewKey();

        Exchange error = await cluster.SendAsync(Aliases.ServerKeys, session,
            session.BuildServerKeyEnrollment(true, NewSubject(), pop: PopKind.Signature, popKey: unrelated));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadPop);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.ServerKeys, session)).CertificateKeys);
    }

    /// <summary>Registers a client-mode end entity (username = CN) whose profile gives P-256 keys; returns its code.</summary>
    private async Task<(string Username, X509Name Subject, IEndEntityGrain Grain)> RegisteredAsync()
    {
        string username = "kga-" + Guid.NewGuid().ToString("N")[..10];
        var subject = new X509Name($"CN={username},O=Example");
        IEndEntityGrain endEntity = cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username));
        await endEntity.RegisterAsync(new EndEntityRegistration(subject.ToString(), [], "issuing", "ec-p256", "default", "code-" + username), replace: false);
        return (username, subject, endEntity);
    }

    [Fact]
    public async Task Client_mode_HMAC_gets_its_key_in_a_password_envelope_that_opens_with_the_one_time_code()
    {
        (string username, X509Name subject, IEndEntityGrain endEntity) = await RegisteredAsync();
        var session = new CmpClientSession("code-" + username, username);

        Exchange ip = await cluster.SendAsync(Aliases.ClientServerKeys, session, session.BuildServerKeyEnrollment(true, subject, implicitConfirm: true));

        byte[] certificate = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        byte[] package = await OpenWithOpenSslAsync(EnvelopeOf(ip.View), "-pwri_password", "code-" + username);
        using ECDsa key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(PrivateKeyInfoOf(package), out _);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(certificate, cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
        Assert.Equal(EndEntityStatus.Generated, (await endEntity.GetAsync())!.Status);
        // The code is used up: the end entity's grain derives no key from it any more.
        Assert.Null(await endEntity.DeriveKeyEncryptionKeyAsync(GrainKeys.Transaction(Aliases.ClientServerKeys, session.TransactionId), new byte[16], 10_000));
    }

    [Fact]
    public async Task Client_mode_with_protocolEncrKey_gets_the_legacy_EncryptedValue()
    {
        (string username, X509Name subject, IEndEntityGrain endEntity) = await RegisteredAsync();
        using RSA transportKey = RSA.Create(2048);
        var session = new CmpClientSession("code-" + username, username);
        var controls = new Controls(new AttributeTypeAndValue(CrmfObjectIdentifiers.id_regCtrl_protocolEncrKey,
            SubjectPublicKeyInfo.GetInstance(transportKey.ExportSubjectPublicKeyInfo())));

        Exchange ip = await cluster.SendAsync(Aliases.ClientServerKeys, session, session.BuildServerKeyEnrollment(true, subject, implicitConfirm: true, controls: controls));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.True(ip.View.PrivateKey!.IsEncryptedValue);
        Assert.Equal(EndEntityStatus.Generated, (await endEntity.GetAsync())!.Status);
    }

    [Fact]
    public async Task A_wrong_code_gets_no_key_and_the_end_entity_keeps_its_code()
    {
        (string username, X509Name subject, IEndEntityGrain endEntity) = await RegisteredAsync();
        var session = new CmpClientSession("not-the-code", username);

        Exchange error = await cluster.SendAsync(Aliases.ClientServerKeys, session, session.BuildServerKeyEnrollment(true, subject));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
        Assert.Null(error.View.PrivateKey);
        Assert.Equal(EndEntityStatus.New, (await endEntity.GetAsync())!.Status);
    }

    [Fact]
    public async Task A_key_update_without_a_key_gets_a_new_key_sealed_to_the_certificate_it_updates()
    {
        (string username, X509Name subject, _) = await RegisteredAsync();
        using ECDsa oldKey = NewKey();
        var enroll = new CmpClientSession("code-" + username, username);
        byte[] old = ProtocolAssert.Granted((await cluster.SendAsync(Aliases.Client, enroll, enroll.BuildEnrollment(true, subject, oldKey, implicitConfirm: true))).View, PkiBodyType.Ip);
        CmpClientSession session = new CmpClientSession("unused", username).SignWith(oldKey, old);

        Exchange kup = await cluster.SendAsync(Aliases.ClientServerKeys, session, session.BuildServerKeyUpdate(old, implicitConfirm: true));

        Assert.True(kup.View.BodyType == PkiBodyType.Kup, $"{kup.View.FailInfo.FirstOrDefault()}: {kup.View.Status?.StatusString?[0].GetString()}");
        byte[] renewed = ProtocolAssert.Granted(kup.View, PkiBodyType.Kup);
        // The request was signed with the old certificate: the new key is sealed to the old key by key agreement.
        var cms = new CmsEnvelopedData(new ContentInfo(CmsObjectIdentifiers.EnvelopedData, EnvelopeOf(kup.View)));
        RecipientInformation recipient = Assert.Single(cms.GetRecipientInfos().GetRecipients());
        byte[] signed = recipient.GetContent(PrivateKeyFactory.CreateKey(oldKey.ExportPkcs8PrivateKey()));
        using ECDsa newKey = ECDsa.Create();
        newKey.ImportPkcs8PrivateKey(PrivateKeyInfoOf(SignedContent(signed)), out _);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(renewed, cluster.Ca), subject, newKey.ExportSubjectPublicKeyInfo());
        Assert.NotEqual(oldKey.ExportSubjectPublicKeyInfo(), newKey.ExportSubjectPublicKeyInfo());
    }

    /// <summary>An RA administrator end entity with an RSA certificate, enrolled through client mode.</summary>
    private async Task<byte[]> EnrolledRsaAsync(string username, RSA key)
    {
        var subject = new X509Name($"CN={username},O=Example");
        await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username))
            .RegisterAsync(new EndEntityRegistration(subject.ToString(), [], "issuing", "default", "default", "code-" + username), replace: true);
        var session = new CmpClientSession("code-" + username, username);
        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(true, subject, key, implicitConfirm: true));
        return ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
    }

    private static EnvelopedData EnvelopeOf(CmpResponseView view)
    {
        EncryptedKey privateKey = Assert.IsType<EncryptedKey>(view.PrivateKey);
        Assert.False(privateKey.IsEncryptedValue);
        return EnvelopedData.GetInstance(privateKey.Value);
    }

    /// <summary>
    /// What a client does with the system OpenSSL: <c>openssl cms -decrypt</c> opens the EnvelopedData (its content is the
    /// SignedData), <c>openssl cms -verify</c> checks the signature up to the root and returns the AsymmetricKeyPackage.
    /// </summary>
    private async Task<byte[]> OpenWithOpenSslAsync(EnvelopedData envelope, params string[] recipient)
    {
        string folder = Directory.CreateTempSubdirectory("kga-").FullName;
        await File.WriteAllBytesAsync(Path.Combine(folder, "envelope.der"), new ContentInfo(CmsObjectIdentifiers.EnvelopedData, envelope).GetEncoded(Asn1Encodable.Der));
        await File.WriteAllTextAsync(Path.Combine(folder, "root.pem"), Pem(cluster.Ca.Root.GetEncoded(Asn1Encodable.Der)));
        OpenSslResult decrypted = await OpenSsl.RunAsync(folder, ["cms", "-decrypt", "-inform", "DER", "-in", "envelope.der", "-binary", "-out", "signed.der", .. recipient]);
        Assert.True(decrypted.Succeeded, decrypted.ToString());
        byte[] signed = await File.ReadAllBytesAsync(Path.Combine(folder, "signed.der"));
        await File.WriteAllBytesAsync(Path.Combine(folder, "signed-info.der"),
            new ContentInfo(CmsObjectIdentifiers.SignedData, Asn1Object.FromByteArray(signed)).GetEncoded(Asn1Encodable.Der));
        OpenSslResult verified = await OpenSsl.RunAsync(folder,
            "cms", "-verify", "-inform", "DER", "-in", "signed-info.der", "-CAfile", "root.pem", "-purpose", "any", "-binary", "-out", "package.der");
        Assert.True(verified.Succeeded, verified + "\nin " + folder);
        byte[] package = await File.ReadAllBytesAsync(Path.Combine(folder, "package.der"));
        Directory.Delete(folder, recursive: true);
        return package;
    }

    /// <summary>
    /// The password recipient opened with BouncyCastle's primitives: PBKDF2 with the PRF the KDF parameters name, the
    /// RFC 3211 unwrap, AES-256-CBC. Returns the SignedData DER.
    /// </summary>
    private static byte[] OpenPasswordEnvelope(EnvelopedData envelope, PasswordRecipientInfo password, string secret)
    {
        var parameters = Pbkdf2Params.GetInstance(password.KeyDerivationAlgorithm.Parameters);
        Assert.Equal(PkcsObjectIdentifiers.IdHmacWithSha256, parameters.Prf.Algorithm);
        var generator = new Pkcs5S2ParametersGenerator(new Sha256Digest());
        generator.Init(System.Text.Encoding.UTF8.GetBytes(secret), parameters.GetSalt(), parameters.IterationCount.IntValueExact);
        var kek = (KeyParameter)generator.GenerateDerivedMacParameters(256);
        var wrap = AlgorithmIdentifier.GetInstance(password.KeyEncryptionAlgorithm.Parameters);
        var unwrapper = new Rfc3211WrapEngine(new AesEngine());
        unwrapper.Init(false, new ParametersWithIV(kek, Asn1OctetString.GetInstance(wrap.Parameters).GetOctets()));
        byte[] wrapped = password.EncryptedKey.GetOctets();
        byte[] contentKey = unwrapper.Unwrap(wrapped, 0, wrapped.Length);
        EncryptedContentInfo content = envelope.EncryptedContentInfo;
        using var aes = Aes.Create();
        aes.Key = contentKey;
        return aes.DecryptCbc(content.EncryptedContent.GetOctets(), Asn1OctetString.GetInstance(content.ContentEncryptionAlgorithm.Parameters).GetOctets(), PaddingMode.PKCS7);
    }

    /// <summary>The eContent of a SignedData: the AsymmetricKeyPackage.</summary>
    private static byte[] SignedContent(byte[] signedData) =>
        Asn1OctetString.GetInstance(SignedData.GetInstance(Asn1Object.FromByteArray(signedData)).EncapContentInfo.Content).GetOctets();

    /// <summary>The one OneAsymmetricKey of an AsymmetricKeyPackage (RFC 5958 §2), as PKCS#8 DER.</summary>
    private static byte[] PrivateKeyInfoOf(byte[] package) =>
        Assert.Single(Asn1Sequence.GetInstance(Asn1Object.FromByteArray(package)).Cast<Asn1Encodable>()).GetEncoded(Asn1Encodable.Der);

    private static string WriteKeyAndCertificate(byte[] pkcs8, byte[] certificate)
    {
        string folder = Directory.CreateTempSubdirectory("kga-recipient-").FullName;
        File.WriteAllText(Path.Combine(folder, "key.pem"), PemEncoding.WriteString("PRIVATE KEY", pkcs8));
        File.WriteAllText(Path.Combine(folder, "cert.pem"), Pem(certificate));
        return folder;
    }

    private static string Pem(byte[] certificate) => PemEncoding.WriteString("CERTIFICATE", certificate) + "\n";
}

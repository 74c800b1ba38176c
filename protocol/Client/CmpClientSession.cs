using System.Security.Cryptography;
using System.Text;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Client;

/// <summary>Header fields a test or load run may override to probe the server.</summary>
/// <summary>What the client accepts and sends: anything a test or a server may choose (the server applies its own floors).</summary>
file static class ClientPbm
{
    public static readonly CmpLimits Limits = new()
    {
        MaxPbmIterations = int.MaxValue, MinPbmIterations = 1,
        AllowedPbmOneWayFunctions = ["SHA1", "SHA256", "SHA384", "SHA512"],
        AllowedPbmMacAlgorithms = ["HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA384", "HMAC-SHA512"],
    };
}

public sealed record RequestOverrides
{
    public int Pvno { get; init; } = 2;
    public DateTimeOffset? MessageTime { get; init; }
    public bool OmitMessageTime { get; init; }
    public byte[]? SenderNonce { get; init; }
    public byte[]? RecipNonce { get; init; }
    public int? PbmIterations { get; init; }
    /// <summary>A validity to ask for in the CertTemplate (RFC 4211 §5).</summary>
    public OptionalValidity? TemplateValidity { get; init; }
    /// <summary>Extensions to ask for in the CertTemplate (RFC 4211 §5).</summary>
    public X509Extensions? TemplateExtensions { get; init; }
    /// <summary>A protectionAlg to MAC with instead of the session's (to probe the server's parameter checks).</summary>
    public AlgorithmIdentifier? MacAlgorithm { get; init; }
    /// <summary>Send without protection (client mode with a password inside the request).</summary>
    public bool Unprotected { get; init; }
}

public enum PopKind
{
    Signature = 0,
    RaVerified = 1,
    None = 2,
    /// <summary>A signature made with a different key than the one requested.</summary>
    WrongKeySignature = 3,
}

/// <summary>
/// A CMP client for one transaction, MAC-protected (PasswordBasedMac, RFC 4211 §4.4): builds ir / cr and certConf,
/// tracks transactionID and nonces, and reads responses. Used by the tests and the load generator.
/// </summary>
public sealed class CmpClientSession(string secret, string senderKid, int pbmIterations = 500)
{
    private readonly byte[] _secret = Encoding.UTF8.GetBytes(secret);
    private KeySigner? _signer;
    private X509CertificateStructure? _signerCertificate;

    /// <summary>Protect requests with a signature by this key instead of PBM, its certificate first in extraCerts
    /// (what <c>openssl cmp -cert -key</c> does; EJBCA's EndEntityCertificate module).</summary>
    public CmpClientSession SignWith(AsymmetricAlgorithm key, byte[] certificateDer)
    {
        _signer = new KeySigner(key);
        _signerCertificate = X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(certificateDer));
        return this;
    }

    public byte[] TransactionId { get; set; } = RandomNumberGenerator.GetBytes(16);

    /// <summary>Protect requests with PBMAC1 (PBKDF2 and HMAC-SHA256, RFC 9481 §6.1.2) instead of PasswordBasedMac.</summary>
    public bool UsePbmac1 { get; set; }

    /// <summary>senderNonce of the server's last response; the next request echoes it as recipNonce.</summary>
    public byte[]? ServerNonce { get; private set; }

    public byte[] LastSenderNonce { get; private set; } = [];

    public byte[] BuildEnrollment(
        bool initial, X509Name subject, AsymmetricAlgorithm key, bool implicitConfirm = false,
        PopKind pop = PopKind.Signature, X509Name? issuer = null, RequestOverrides? overrides = null, string? regToken = null)
    {
        // RFC 4211 §6.1: the one-time secret as the id-regCtrl-regToken control (EJBCA's RegTokenPwd).
        Controls? controls = regToken is null ? null
            : new Controls(new AttributeTypeAndValue(CrmfObjectIdentifiers.id_regCtrl_regToken, new DerUtf8String(regToken)));
        return BuildCertRequest(initial ? PkiBody.TYPE_INIT_REQ : PkiBody.TYPE_CERT_REQ, subject, key, implicitConfirm, pop, issuer, overrides, controls);
    }

    /// <summary>
    /// kur (RFC 9483 §4.1.3) for a new key. With <paramref name="updatedCertificateDer"/> the template takes its subject and
    /// the oldCertID control names it (RFC 4211 §6.5); an RA names the end entity by <paramref name="subject"/> instead.
    /// </summary>
    public byte[] BuildKeyUpdate(
        AsymmetricAlgorithm newKey, byte[]? updatedCertificateDer, X509Name? subject = null, bool implicitConfirm = false,
        bool includeOldCertId = true, PopKind pop = PopKind.Signature, X509Name? issuer = null, RequestOverrides? overrides = null)
    {
        X509CertificateStructure? updated = updatedCertificateDer is null ? null : X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(updatedCertificateDer));
        Controls? controls = updated is null || !includeOldCertId ? null
            : new Controls(new AttributeTypeAndValue(CrmfObjectIdentifiers.id_regCtrl_oldCertID,
                new CertId(new GeneralName(updated.Issuer), updated.SerialNumber)));
        return BuildCertRequest(PkiBody.TYPE_KEY_UPDATE_REQ, subject ?? updated?.Subject, newKey, implicitConfirm, pop, issuer, overrides, controls);
    }

    /// <summary>rr (RFC 9483 §4.2) for a certificate, with a CRLReason (RFC 5280 §5.3.1).</summary>
    public byte[] BuildRevocation(byte[] certificateDer, int? reason, RequestOverrides? overrides = null)
    {
        var certificate = X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(certificateDer));
        return BuildRevocation(certificate.Issuer, certificate.SerialNumber, reason is null ? null : new DerEnumerated(reason.Value), null, overrides);
    }

    /// <summary>rr with any template fields left out and any reasonCode value, to probe the server.</summary>
    public byte[] BuildRevocation(X509Name? issuer, DerInteger? serial, Asn1Encodable? reasonCode, X509Name? subject = null, RequestOverrides? overrides = null)
    {
        var template = new CertTemplateBuilder();
        if (issuer is not null)
        {
            template.SetIssuer(issuer);
        }
        if (serial is not null)
        {
            template.SetSerialNumber(serial);
        }
        if (subject is not null)
        {
            template.SetSubject(subject);
        }
        X509Extensions? entryDetails = null;
        if (reasonCode is not null)
        {
            var extensions = new X509ExtensionsGenerator();
            extensions.AddExtension(X509Extensions.ReasonCode, false, reasonCode);
            entryDetails = extensions.Generate();
        }
        var body = new PkiBody(PkiBody.TYPE_REVOCATION_REQ, new RevReqContent(new RevDetails(template.Build(), entryDetails)));
        return Protect(body, implicitConfirm: false, overrides);
    }

    /// <summary>ir for any public key, with raVerified POP (RFC 4211 §4): to probe what the CA certifies on an RA's word.</summary>
    public byte[] BuildRaVerifiedEnrollment(X509Name subject, SubjectPublicKeyInfo publicKey)
    {
        var template = new CertTemplateBuilder().SetSubjectPublicKeyInfo(publicKey).SetSubject(subject);
        var message = new CertReqMsg(new CertRequest(0, template.Build(), null), new ProofOfPossession(), null);
        return Protect(new PkiBody(PkiBody.TYPE_INIT_REQ, new CertReqMessages(message)), implicitConfirm: false, overrides: null);
    }

    /// <summary>
    /// ir whose signature POP signs a POPOSigningKeyInput (RFC 4211 §4.1): authInfo is <paramref name="sender"/>, or else a
    /// publicKeyMAC keyed with <paramref name="macSecret"/>; the key is in the template only if <paramref name="keyInTemplate"/>.
    /// </summary>
    public byte[] BuildEnrollmentWithSigningInput(X509Name subject, AsymmetricAlgorithm key, GeneralName? sender, byte[]? macSecret, bool keyInTemplate)
    {
        var publicKey = SubjectPublicKeyInfo.GetInstance(ExportPublicKey(key));
        var template = new CertTemplateBuilder().SetSubject(subject);
        if (keyInTemplate)
        {
            template.SetSubjectPublicKeyInfo(publicKey);
        }
        PopoSigningKeyInput input;
        if (sender is not null)
        {
            input = new PopoSigningKeyInput(sender, publicKey);
        }
        else
        {
            AlgorithmIdentifier algorithm = PasswordBasedMac.NewAlgorithm(pbmIterations);
            byte[] mac = PasswordBasedMac.Derive(algorithm, macSecret ?? [], ClientPbm.Limits).Compute(publicKey.GetEncoded(Asn1Encodable.Der));
            input = new PopoSigningKeyInput(new PKMacValue(algorithm, new DerBitString(mac)), publicKey);
        }
        var signer = new KeySigner(key);
        var pop = new ProofOfPossession(new PopoSigningKey(input, signer.Algorithm, new DerBitString(signer.Sign(input.GetEncoded(Asn1Encodable.Der)))));
        var message = new CertReqMsg(new CertRequest(0, template.Build(), null), pop, null);
        return Protect(new PkiBody(PkiBody.TYPE_INIT_REQ, new CertReqMessages(message)), implicitConfirm: false, overrides: null);
    }

    /// <summary>
    /// ir / cr asking the CA to generate the key pair (RFC 9483 §4.1.6): no publicKey in the template, or
    /// <paramref name="algorithmOnly"/> (an algorithm with an empty key); no POP unless <paramref name="pop"/> adds one by
    /// <paramref name="popKey"/>; <paramref name="controls"/> such as id-regCtrl-protocolEncrKey for the legacy EncryptedValue form.
    /// </summary>
    public byte[] BuildServerKeyEnrollment(
        bool initial, X509Name subject, SubjectPublicKeyInfo? algorithmOnly = null, bool implicitConfirm = false, Controls? controls = null,
        PopKind pop = PopKind.None, AsymmetricAlgorithm? popKey = null) =>
        BuildServerKeyRequest(initial ? PkiBody.TYPE_INIT_REQ : PkiBody.TYPE_CERT_REQ, subject, algorithmOnly, implicitConfirm, controls, pop, popKey);

    /// <summary>kur (RFC 9483 §4.1.3) asking the CA to generate the new key (§4.1.6): the updated certificate's subject, its oldCertID, no key.</summary>
    public byte[] BuildServerKeyUpdate(byte[] updatedCertificateDer, bool implicitConfirm = false)
    {
        var updated = X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(updatedCertificateDer));
        var controls = new Controls(new AttributeTypeAndValue(CrmfObjectIdentifiers.id_regCtrl_oldCertID,
            new CertId(new GeneralName(updated.Issuer), updated.SerialNumber)));
        return BuildServerKeyRequest(PkiBody.TYPE_KEY_UPDATE_REQ, updated.Subject, null, implicitConfirm, controls, PopKind.None, null);
    }

    private byte[] BuildServerKeyRequest(
        int bodyType, X509Name subject, SubjectPublicKeyInfo? algorithmOnly, bool implicitConfirm, Controls? controls, PopKind pop, AsymmetricAlgorithm? popKey)
    {
        var template = new CertTemplateBuilder().SetSubject(subject);
        if (algorithmOnly is not null)
        {
            template.SetSubjectPublicKeyInfo(algorithmOnly);
        }
        var request = new CertRequest(0, template.Build(), controls);
        ProofOfPossession? proof = pop switch
        {
            PopKind.RaVerified => new ProofOfPossession(),
            PopKind.Signature => SignaturePop(request, popKey ?? throw new ArgumentNullException(nameof(popKey))),
            _ => null,
        };
        var body = new PkiBody(bodyType, new CertReqMessages(new CertReqMsg(request, proof, null)));
        return Protect(body, implicitConfirm, overrides: null);
    }

    /// <summary>p10cr (RFC 9483 §4.1.4) carrying a PKCS#10 request (DER, RFC 2986) as it is.</summary>
    public byte[] BuildP10(byte[] certificationRequestDer, bool implicitConfirm = false, RequestOverrides? overrides = null) =>
        Protect(new PkiBody(PkiBody.TYPE_P10_CERT_REQ, Org.BouncyCastle.Asn1.Pkcs.CertificationRequest.GetInstance(Asn1Object.FromByteArray(certificationRequestDer))),
            implicitConfirm, overrides);

    /// <summary>pollReq for a request answered "waiting" (RFC 9483 §4.4), chained to the last response.</summary>
    public byte[] BuildPollReq(long certReqId = 0) =>
        Protect(new PkiBody(PkiBody.TYPE_POLL_REQ, new PollReqContent(Org.BouncyCastle.Math.BigInteger.ValueOf(certReqId))),
            implicitConfirm: false, new RequestOverrides { RecipNonce = ServerNonce });

    /// <summary>nested (RFC 9810 §5.1.3.4): this session's protection (an RA's signature) around whole PKIMessages.</summary>
    public byte[] BuildNested(params byte[][] innerMessages) =>
        Protect(new PkiBody(PkiBody.TYPE_NESTED, new PkiMessages(innerMessages.Select(m => PkiMessage.GetInstance(Asn1Object.FromByteArray(m))).ToArray())),
            implicitConfirm: false, overrides: null);

    /// <summary>genm (RFC 9483 §4.3) asking for each InfoTypeAndValue.</summary>
    public byte[] BuildGeneralMessage(params InfoTypeAndValue[] requests) =>
        Protect(new PkiBody(PkiBody.TYPE_GEN_MSG, new GenMsgContent(requests)), implicitConfirm: false, overrides: null);

    private byte[] BuildCertRequest(
        int bodyType, X509Name? subject, AsymmetricAlgorithm key, bool implicitConfirm, PopKind pop, X509Name? issuer,
        RequestOverrides? overrides, Controls? controls)
    {
        var template = new CertTemplateBuilder().SetSubjectPublicKeyInfo(SubjectPublicKeyInfo.GetInstance(ExportPublicKey(key)));
        if (subject is not null)
        {
            template.SetSubject(subject);
        }
        if (issuer is not null)
        {
            template.SetIssuer(issuer);
        }
        if (overrides?.TemplateValidity is { } validity)
        {
            template.SetValidity(validity);
        }
        if (overrides?.TemplateExtensions is { } extensions)
        {
            template.SetExtensions(extensions);
        }
        var request = new CertRequest(0, template.Build(), controls);
        ProofOfPossession? proof = pop switch
        {
            PopKind.Signature => SignaturePop(request, key),
            PopKind.WrongKeySignature => SignaturePop(request, ECDsa.Create(ECCurve.NamedCurves.nistP256)),
            PopKind.RaVerified => new ProofOfPossession(),
            _ => null,
        };
        var body = new PkiBody(bodyType, new CertReqMessages(new CertReqMsg(request, proof, null)));
        return Protect(body, implicitConfirm, overrides);
    }

    /// <summary>certConf for the certificate of the last response (RFC 9810 §5.3.18); SHA-256 certHash unless given.</summary>
    public byte[] BuildCertConf(byte[] certificateDer, bool accept = true, byte[]? certHash = null, long certReqId = 0, RequestOverrides? overrides = null)
    {
        PkiStatusInfo? status = accept ? null : new PkiStatusInfo((int)PkiStatus.Rejection, new PkiFreeText("rejected by client"));
        var certStatus = new CertStatus(certHash ?? SHA256.HashData(certificateDer), Org.BouncyCastle.Math.BigInteger.ValueOf(certReqId), status);
        var body = new PkiBody(PkiBody.TYPE_CERT_CONFIRM, CertConfirmContent.GetInstance(new DerSequence(certStatus)));
        return Protect(body, implicitConfirm: false, overrides ?? new RequestOverrides { RecipNonce = ServerNonce });
    }

    /// <summary>Reads a response and remembers its senderNonce for the next request.</summary>
    public CmpResponseView Read(byte[] der)
    {
        var view = CmpResponseView.Parse(der);
        ServerNonce = view.SenderNonce;
        return view;
    }

    /// <summary>Whether a response is MAC-protected with this session's secret.</summary>
    public bool VerifyMac(byte[] der)
    {
        var message = PkiMessage.GetInstance(Asn1Object.FromByteArray(der));
        if (!PasswordBasedMac.IsPasswordBasedMac(message.Header.ProtectionAlg))
        {
            return false;
        }
        CmpLimits limits = ClientPbm.Limits;
        return PasswordBasedMac.Derive(message.Header.ProtectionAlg, _secret, limits)
            .Verify(new ProtectedPart(message.Header, message.Body).GetEncoded(Asn1Encodable.Der), message.Protection.GetOctets());
    }

    private byte[] Protect(PkiBody body, bool implicitConfirm, RequestOverrides? overrides)
    {
        overrides ??= new RequestOverrides();
        LastSenderNonce = overrides.SenderNonce ?? RandomNumberGenerator.GetBytes(16);
        int iterations = overrides.PbmIterations ?? pbmIterations;
        AlgorithmIdentifier algorithm = overrides.MacAlgorithm ?? _signer?.Algorithm
            ?? (UsePbmac1 ? PasswordBasedMac.NewPbmac1Algorithm(iterations) : PasswordBasedMac.NewAlgorithm(iterations));
        var builder = new PkiHeaderBuilder(overrides.Pvno,
                new GeneralName(_signerCertificate?.Subject ?? new X509Name("CN=cmp-client")), new GeneralName(X509Name.GetInstance(new DerSequence())));
        if (!overrides.Unprotected)
        {
            builder.SetProtectionAlg(algorithm);
        }
        builder
            .SetSenderKID(Encoding.UTF8.GetBytes(senderKid))
            .SetTransactionID(TransactionId)
            .SetSenderNonce(LastSenderNonce);
        if (!overrides.OmitMessageTime)
        {
            builder.SetMessageTime(new Asn1GeneralizedTime((overrides.MessageTime ?? DateTimeOffset.UtcNow).UtcDateTime));
        }
        if (overrides.RecipNonce is not null)
        {
            builder.SetRecipNonce(overrides.RecipNonce);
        }
        if (implicitConfirm)
        {
            builder.SetGeneralInfo(new InfoTypeAndValue(CmpObjectIdentifiers.it_implicitConfirm, DerNull.Instance));
        }
        PkiHeader header = builder.Build();
        if (overrides.Unprotected)
        {
            return new PkiMessage(header, body, null).GetEncoded(Asn1Encodable.Der);
        }
        byte[] protectedPart = new ProtectedPart(header, body).GetEncoded(Asn1Encodable.Der);
        if (_signer is not null)
        {
            return new PkiMessage(header, body, new DerBitString(_signer.Sign(protectedPart)), [new CmpCertificate(_signerCertificate!)])
                .GetEncoded(Asn1Encodable.Der);
        }
        CmpLimits limits = ClientPbm.Limits;
        byte[] mac = PasswordBasedMac.Derive(algorithm, _secret, limits).Compute(protectedPart);
        return new PkiMessage(header, body, new DerBitString(mac)).GetEncoded(Asn1Encodable.Der);
    }

    private static ProofOfPossession SignaturePop(CertRequest request, AsymmetricAlgorithm key)
    {
        var signer = new KeySigner(key);
        byte[] signature = signer.Sign(request.GetEncoded(Asn1Encodable.Der));
        return new ProofOfPossession(new PopoSigningKey(null, signer.Algorithm, new DerBitString(signature)));
    }

    private static byte[] ExportPublicKey(AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec => ec.ExportSubjectPublicKeyInfo(),
        RSA rsa => rsa.ExportSubjectPublicKeyInfo(),
        _ => throw new ArgumentException("only ECDSA and RSA keys", nameof(key)),
    };
}

using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.Certificates;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Policy;
using CmpCluster.Protocol.ServerKeys;
using CmpCluster.Protocol.Validation;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;

namespace CmpCluster.Grains.Handlers;

/// <summary>One normalized enrollment: ir, cr and kur (later p10cr) become this.</summary>
public sealed record EnrollmentRequest(
    IReadOnlyList<CertReqMsg> Messages,
    CmpAliasOptions Alias,
    CertificateAuthorityKeys Ca,
    CertificateProfileOptions Profile,
    string Owner,
    string TransactionKey,
    bool ImplicitConfirm,
    EndEntityView? EndEntity = null,
    /// <summary>kur: the certificate being updated; its subject and subjectAltName carry over to the new certificate.</summary>
    CertificateRef? Updated = null,
    /// <summary>The end entity the certificate is for (client mode, RA name generation, key update).</summary>
    string? Username = null,
    string? ProfileName = null,
    /// <summary>A template issuer that names this, not the CA of the alias, is ignored (vendor mode: OpenSSL's default).</summary>
    X509Name? IgnoredTemplateIssuer = null)
{
    /// <summary>ir, cr, p10cr or kur: decides the response type (ip, cp, kup).</summary>
    public PkiBodyType RequestType { get; init; } = PkiBodyType.Cr;

    /// <summary>p10cr: the PKCS#10 request behind the one message, whose signature is the POP.</summary>
    public CertificationRequest? Pkcs10 { get; init; }

    /// <summary>What a POPOSigningKeyInput's authInfo is checked against (RFC 4211 §4.1).</summary>
    public PopContext? PopContext { get; init; }

    /// <summary>RA mode: the end-entity profile whose DN rules the requested subject must meet (null: none).</summary>
    public EndEntityProfileOptions? EndEntityProfile { get; init; }

    public string EndEntityProfileName { get; init; } = "default";

    /// <summary>
    /// Who a server-generated key is encrypted to (RFC 9483 §4.1.6), from how the request was protected: the shared
    /// secret of a MAC, the certificate of a signature; null when neither can receive one.
    /// </summary>
    public KeyRecipient? KeyRecipient { get; init; }

    /// <summary>The response type for <see cref="RequestType"/> (RFC 9810 §5.3.4).</summary>
    public PkiBodyType ResponseType => RequestType switch
    {
        PkiBodyType.Ir => PkiBodyType.Ip,
        PkiBodyType.Kur => PkiBodyType.Kup,
        _ => PkiBodyType.Cp,
    };
}

/// <summary>A request that passed every check and POP: what would be issued, and under which certReqId.</summary>
/// <param name="Modified">
/// the certificate will differ from what the template asked for in something other than validity (a subjectAltName or
/// another extension not taken, a validity the profile does not let a request choose): grantedWithMods (RFC 9810 §5.2.3).
/// </param>
/// <param name="ServerKey">the key the CA generates for this request (RFC 9483 §4.1.6), and how it is delivered; null: the request brought its key.</param>
public sealed record PreparedEnrollment(DerInteger CertReqId, IssuanceRequest Issuance, bool Modified = false, ServerKeyDelivery? ServerKey = null);

/// <summary>
/// A key the CA generates: <paramref name="Spec"/>, sealed to <paramref name="Recipient"/> (RFC 9483 §4.1.6), or where the
/// alias keeps the legacy form, encrypted to the request's <paramref name="ProtocolEncrKey"/> (RFC 4211 §2.1, §6.6).
/// </summary>
public sealed record ServerKeyDelivery(ServerKeySpec Spec, KeyRecipient? Recipient, SubjectPublicKeyInfo? ProtocolEncrKey);

/// <summary>Business decisions of ir / cr / kur: template policy, POP, then the issuance cycle.</summary>
public sealed class EnrollmentHandler(CertificateIssuer issuer, AliasCertificates aliasCertificates)
{
    /// <summary>Whether a certificate awaiting confirmation can carry its own deadline (<see cref="CertificateIssuer.DeadlinesIndexed"/>).</summary>
    public bool CertificatesKeepDeadlines => issuer.DeadlinesIndexed;

    /// <summary>
    /// Issues what <see cref="Prepare"/> checked. <paramref name="resumeKey"/>: the serial an interrupted attempt of this same request
    /// reserved (see <see cref="CertificateIssuer.ResumeAsync"/>); <paramref name="reserved"/> is told a new one first.
    /// </summary>
    public async Task<Issuance> HandleAsync(EnrollmentRequest request, PreparedEnrollment prepared, string? resumeKey, Func<string, Task>? reserved)
    {
        (IssuedCertificate issued, EncryptedKey? privateKey) = prepared.ServerKey is { } serverKey
            ? await IssueWithServerKeyAsync(request, prepared, serverKey, resumeKey, reserved)
            : (resumeKey is null ? await issuer.IssueAsync(prepared.Issuance, reserved) : await issuer.ResumeAsync(prepared.Issuance, resumeKey), null);
        X509CertificateStructure[] caPubs = aliasCertificates.CaPubs(request.Alias, request.Ca);
        return new Issuance(request.ResponseType, prepared.CertReqId.LongValueExact, issued, X509CertificateStructure.GetInstance(issued.Der),
            caPubs, request.ImplicitConfirm) { GrantedWithMods = prepared.Modified || issued.ValidityModified, PrivateKey = privateKey };
    }

    /// <summary>
    /// RFC 9483 §4.1.6: the CA generates the key pair, certifies its public key, and answers the private key in
    /// CertifiedKeyPair.privateKey, encrypted to the requester. The key lives in memory for this call only: it is
    /// never stored, never logged, and wiped once encrypted. A retry after a crash cannot have the key the interrupted
    /// attempt certified, so that certificate (never delivered) is revoked and a new key is issued.
    /// </summary>
    private async Task<(IssuedCertificate, EncryptedKey)> IssueWithServerKeyAsync(
        EnrollmentRequest request, PreparedEnrollment prepared, ServerKeyDelivery serverKey, string? resumeKey, Func<string, Task>? reserved)
    {
        if (resumeKey is not null)
        {
            await issuer.AbandonAsync(resumeKey);
        }
        // RSA generation takes tens to hundreds of milliseconds: off the grain's scheduler.
        using GeneratedKey key = await Task.Run(serverKey.Spec.Generate);
        IssuedCertificate issued = await issuer.IssueAsync(prepared.Issuance with { PublicKey = key.PublicKey }, reserved);
        CertificateAuthorityKeys ca = request.Ca;
        EncryptedKey privateKey = serverKey.ProtocolEncrKey is { } legacy
            ? new EncryptedKey(KeyPackage.EncryptedValue(key.PrivateKeyInfo, key.PublicKey.Algorithm, legacy))
            // The CMP signer is the key generation authority (its certificate carries id-kp-cmKGA, RFC 9483 §4.1.6).
            : new EncryptedKey(KeyPackage.Seal(key.PrivateKeyInfo, serverKey.Recipient!, new KeyGenerationAuthority(
                ca.CmpSigner.Certificate, ca.CmpSigner.Signer.Algorithm, data => ca.CmpSigner.Sign(data, "key-package"), ca.CaChain)));
        return (issued, privateKey);
    }

    /// <summary>Every check of the request and its POP, without issuing: a request that will wait (RFC 9483 §4.4) is
    /// refused now if it can never be granted.</summary>
    public PreparedEnrollment Prepare(EnrollmentRequest request)
    {
        IReadOnlyList<CertReqMsg> messages = request.Messages;
        // RFC 9483 §4.1.1: exactly one CertReqMsg per request.
        if (messages.Count != 1)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "exactly one CertReqMsg is supported per request");
        }
        CertReqMsg message = messages[0];
        CertTemplate template = message.CertReq.CertTemplate;
        // RFC 9483 §4.1.1 asks for certReqId 0; others (EJBCA's samples use 1) are accepted if certConf can name them.
        // A p10cr's is -1 (§4.1.4), set by the decoder.
        if (request.Pkcs10 is null && (message.CertReq.CertReqID.Value.BitLength > 62 || message.CertReq.CertReqID.Value.SignValue < 0))
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "certReqId is out of range");
        }

        // RFC 9483 §4.1.1: the CA named in the template, if any, must be the CA of this alias (EJBCA's CMP error table: wrongAuthority).
        if (template.Issuer is not null && !template.Issuer.Equivalent(request.Ca.Ca.Certificate.Subject)
            && !(request.IgnoredTemplateIssuer is { } ignored && template.Issuer.Equivalent(ignored)))
        {
            throw new CmpFailureException(PkiFailureInfo.WrongAuthority, "the requested issuer is not the CA of this alias");
        }
        X509CertificateStructure? updated = request.Updated is { } reference ? X509CertificateStructure.GetInstance(reference.Der) : null;
        X509Name subject = updated is not null ? CheckUpdate(updated, template, request.Ca)
            // Client mode issues the registered subject; RA mode the requested one.
            : request.EndEntity is { } endEntity ? CheckRegistration(endEntity, template, request.Ca, request.Alias.DnPartPwdComponent)
            : template.Subject is { } requested && requested.GetOidList().Count > 0 ? requested
            : throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the template has no subject");
        // RA mode: the end-entity profile's DN rules (fields allowed, required, fixed, default).
        bool subjectModified = false;
        if (updated is null && request.EndEntity is null)
        {
            (subject, subjectModified) = EndEntityProfileRules.Apply(subject, request.EndEntityProfile, request.EndEntityProfileName);
        }
        // RFC 4211 §4.1: a template without a key may carry it in the signature POP's POPOSigningKeyInput. Without a
        // key anywhere (or with an algorithm only), the request asks the CA to generate one (RFC 9483 §4.1.6).
        SubjectPublicKeyInfo? given = template.PublicKey is null ? PopVerifier.KeyOfSigningInput(message)
            : ServerKeySpec.IsRequested(template) ? null : template.PublicKey;
        if (given is null && request.Pkcs10 is null)
        {
            ServerKeyDelivery serverKey = ServerKeyRequest(request, message);
            return Prepared(request, message, template, subject, subjectModified, updated, serverKey.Spec.AlgorithmOnly) with { ServerKey = serverKey };
        }
        SubjectPublicKeyInfo publicKey = given ?? throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the request has no public key");
        // Whatever proves possession below, the key itself must be one this CA certifies (RFC 9481 §2).
        PublicKeyRules.Check(publicKey, request.Profile);
        // EJBCA's CMP error table: a key update with the same key pair is badMessageCheck, unless the alias allows it.
        if (updated is not null && !request.Alias.AllowKeyUpdateWithSameKey && publicKey.Equals(updated.SubjectPublicKeyInfo))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the key update request uses the key of the certificate it updates");
        }

        // RFC 4211 §4: proof of possession before anything is recorded; a p10cr's is its signature (RFC 9483 §4.1.4).
        AlgorithmIdentifier? popAlgorithm = null;
        if (request.Pkcs10 is { } pkcs10)
        {
            PopVerifier.VerifyPkcs10(pkcs10);
            popAlgorithm = pkcs10.SignatureAlgorithm;
        }
        else
        {
            PopVerifier.Verify(message, request.Alias.AllowRaVerifiedPop, request.PopContext);
            popAlgorithm = message.Pop is { Type: ProofOfPossession.TYPE_SIGNING_KEY } pop ? PopoSigningKey.GetInstance(pop.Object).AlgorithmIdentifier : null;
        }
        if (popAlgorithm is null)
        {
            // raVerified: an RA vouched for possession, but no signature decoded the key; it must still be a valid one.
            PublicKeyRules.CheckOnCurve(publicKey);
        }
        // 3GPP TS 33.310 on a vendor-mode alias: the POP signature uses SHA-256 or SHA-384, never SHA-1 or MD5.
        if (request.Alias.VendorCertificateMode && popAlgorithm is not null && VendorCertificates.Weak(popAlgorithm))
        {
            throw new CmpFailureException(PkiFailureInfo.BadAlg, "SHA-1 and MD5 are not accepted for POP (3GPP TS 33.310)");
        }
        return Prepared(request, message, template, subject, subjectModified, updated, publicKey);
    }

    /// <summary>What is issued for a request that passed its checks, with <paramref name="publicKey"/>.</summary>
    private static PreparedEnrollment Prepared(
        EnrollmentRequest request, CertReqMsg message, CertTemplate template, X509Name subject, bool subjectModified, X509CertificateStructure? updated,
        SubjectPublicKeyInfo publicKey)
    {
        // A key update keeps the names of the certificate it updates. Otherwise registered names win (client mode), else
        // the requested ones where the profile allows them.
        X509Extension? subjectAltName = updated is not null ? updated.TbsCertificate.Extensions?.GetExtension(X509Extensions.SubjectAlternativeName)
            : request.EndEntity is { SubjectAltNames.Count: > 0 } registeredNames
            ? new X509Extension(false, new DerOctetString(AltNames(registeredNames.SubjectAltNames)))
            : request.Profile.AllowSubjectAltNameFromRequest ? AcceptedAltNames(template, request.Profile) : null;
        if (request.Profile.UnacceptedRequestContent == UnacceptedRequestContent.Refuse
            && UnacceptedExtension(template, request.Profile, namesDecidedElsewhere: updated is not null || request.EndEntity is { SubjectAltNames.Count: > 0 }) is { } refused)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, $"the certificate profile does not take the extension {refused} from a request");
        }
        return new PreparedEnrollment(message.CertReq.CertReqID, new IssuanceRequest(
            request.Ca, request.Profile, subject, publicKey, subjectAltName,
            request.Owner, request.TransactionKey, Confirmed: request.ImplicitConfirm, request.Username ?? request.EndEntity?.Username, request.ProfileName)
        {
            RequestedValidity = request.Profile.AllowValidityOverride ? template.Validity : null,
            RequestedKeyUsage = request.Profile.AllowKeyUsageOverride ? RequestedKeyUsage(template) : null,
            RequestedExtendedKeyUsages = request.Profile.AllowExtendedKeyUsageOverride ? RequestedExtendedKeyUsages(template) : null,
        }, Modified: subjectModified || Modifies(template, subjectAltName, request.Profile));
    }

    /// <summary>
    /// A request-handler plug-in's changes (protocol/Policy/IEnrollmentPolicy.cs), each held to what the profile allows:
    /// a subject only in RA mode and through the end-entity profile's DN rules, names of the types the profile takes, a
    /// notAfter within the profile's longest validity (the issuer shortens a longer one). The answer is grantedWithMods.
    /// </summary>
    public static PreparedEnrollment Adjust(EnrollmentRequest request, PreparedEnrollment prepared, TemplateAdjustment changes)
    {
        IssuanceRequest issuance = prepared.Issuance;
        if (changes.Subject is { } subject)
        {
            if (request.EndEntity is not null || request.Updated is not null)
            {
                throw new CmpFailureException(PkiFailureInfo.SystemFailure, "the enrollment policy may not change the subject of a registered end entity or a key update");
            }
            issuance = issuance with { Subject = EndEntityProfileRules.Apply(subject, request.EndEntityProfile, request.EndEntityProfileName).Subject };
        }
        if (changes.SubjectAltNames is { } names)
        {
            if (names.GetNames().FirstOrDefault(name => SubjectAltNameTypeNames.Of(name.TagNo) is not { } type
                || !request.Profile.SubjectAltNameTypes.Contains(type, StringComparer.OrdinalIgnoreCase)) is { } refused)
            {
                throw new CmpFailureException(PkiFailureInfo.BadCertTemplate,
                    $"the enrollment policy asks for a subjectAltName name of type {SubjectAltNameTypeNames.Of(refused.TagNo) ?? refused.TagNo.ToString()}, which the profile does not take");
            }
            issuance = issuance with { SubjectAltName = names.GetNames().Length == 0 ? null : new X509Extension(false, new DerOctetString(names)) };
        }
        if (changes.NotAfter is { } notAfter)
        {
            issuance = issuance with { RequestedValidity = new OptionalValidity(null, new Time(notAfter.UtcDateTime)) };
        }
        return prepared with { Issuance = issuance, Modified = true };
    }

    /// <summary>
    /// A request for a server-generated key (RFC 9483 §4.1.6), checked before anything is generated or issued, with the
    /// answers of EJBCA's CMP error table (all badRequest): the alias must allow it, the profile must leave one key choice
    /// (<see cref="ServerKeySpec.Choose"/>), the request carries no proof of possession (there is no key to prove), and the
    /// key must be deliverable: to the request's protection, or as EncryptedValue to its protocolEncrKey where the alias
    /// keeps that legacy form.
    /// </summary>
    private static ServerKeyDelivery ServerKeyRequest(EnrollmentRequest request, CertReqMsg message)
    {
        if (!request.Alias.AllowServerGeneratedKeys)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "the template has no public key; server-generated keys are not offered on this alias");
        }
        ServerKeySpec spec = ServerKeySpec.Choose(message.CertReq.CertTemplate.PublicKey, request.Profile);
        if (message.Pop is { Type: not ProofOfPossession.TYPE_RA_VERIFIED })
        {
            throw new CmpFailureException(PkiFailureInfo.BadPop, "a request for a server-generated key has no key to prove possession of; omit the POP");
        }
        if (request.Alias.ServerKeysAsEncryptedValue && ProtocolEncrKey(message) is { } legacy)
        {
            return new ServerKeyDelivery(spec, null, legacy);
        }
        return request.KeyRecipient switch
        {
            KeyRecipient.Certificate { Value: var certificate } when !KeyPackage.CanReceive(certificate) => throw KeyPackage.CannotReceive(),
            { } recipient => new ServerKeyDelivery(spec, recipient, null),
            null => throw new CmpFailureException(PkiFailureInfo.BadRequest,
                "a server-generated key is delivered to a request's shared secret (MAC) or signer certificate, and this request has neither"),
        };
    }

    /// <summary>The id-regCtrl-protocolEncrKey control (RFC 4211 §6.6): the key to encrypt a returned private key to.</summary>
    private static SubjectPublicKeyInfo? ProtocolEncrKey(CertReqMsg message)
    {
        AttributeTypeAndValue? control = message.CertReq.Controls?.ToAttributeTypeAndValueArray()
            .FirstOrDefault(c => c.Type.Equals(CrmfObjectIdentifiers.id_regCtrl_protocolEncrKey));
        try
        {
            return control is null ? null : SubjectPublicKeyInfo.GetInstance(control.Value);
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "the protocolEncrKey control is not a SubjectPublicKeyInfo");
        }
    }

    /// <summary>
    /// RFC 9810 §5.2.3 grantedWithMods: the template asked for something the certificate will not carry. A subjectAltName
    /// not copied (registered or kept names win, or the profile does not copy it), any other requested extension (the
    /// profile decides them), or a validity where the profile does not let a request choose one.
    /// </summary>
    private static bool Modifies(CertTemplate template, X509Extension? subjectAltName, CertificateProfileOptions profile)
    {
        X509Extension? requestedNames = template.Extensions?.GetExtension(X509Extensions.SubjectAlternativeName);
        bool namesChanged = requestedNames is not null && !requestedNames.Equals(subjectAltName);
        bool otherExtensions = template.Extensions?.GetExtensionOids().Any(oid => !oid.Equals(X509Extensions.SubjectAlternativeName)
            && !(oid.Equals(X509Extensions.KeyUsage) && profile.AllowKeyUsageOverride)
            && !(oid.Equals(X509Extensions.ExtendedKeyUsage) && profile.AllowExtendedKeyUsageOverride)) == true;
        bool validityIgnored = template.Validity is not null && !profile.AllowValidityOverride;
        return namesChanged || otherExtensions || validityIgnored;
    }

    /// <summary>
    /// The template's subjectAltName with the names of the types the profile takes (<see cref="CertificateProfileOptions.AllowedSubjectAltNameTypes"/>);
    /// a name of another type is dropped (grantedWithMods follows) or, where the profile says so, refused with badCertTemplate.
    /// </summary>
    private static X509Extension? AcceptedAltNames(CertTemplate template, CertificateProfileOptions profile)
    {
        if (RequestedAltNames(template) is not { } requested)
        {
            return null;
        }
        GeneralName[] names = GeneralNames.GetInstance(requested.GetParsedValue()).GetNames();
        GeneralName[] kept = names.Where(name => SubjectAltNameTypeNames.Of(name.TagNo) is { } type
            && profile.SubjectAltNameTypes.Contains(type, StringComparer.OrdinalIgnoreCase)).ToArray();
        if (kept.Length == names.Length)
        {
            return requested;
        }
        if (profile.UnacceptedRequestContent == UnacceptedRequestContent.Refuse)
        {
            string type = names.Except(kept).Select(name => SubjectAltNameTypeNames.Of(name.TagNo) ?? $"[{name.TagNo}]").First();
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, $"the certificate profile does not take subjectAltName names of type {type}");
        }
        return kept.Length == 0 ? null : new X509Extension(requested.IsCritical, new DerOctetString(new GeneralNames(kept)));
    }

    /// <summary>
    /// The first template extension this profile never takes from a request, by OID: a subjectAltName where the profile
    /// copies none (unless the names come from the registration or the updated certificate, which win anyway), key usage
    /// and extended key usage without their override, anything else.
    /// </summary>
    private static string? UnacceptedExtension(CertTemplate template, CertificateProfileOptions profile, bool namesDecidedElsewhere) =>
        template.Extensions?.GetExtensionOids().FirstOrDefault(oid =>
            oid.Equals(X509Extensions.SubjectAlternativeName) ? !profile.AllowSubjectAltNameFromRequest && !namesDecidedElsewhere
            : oid.Equals(X509Extensions.KeyUsage) ? !profile.AllowKeyUsageOverride
            : oid.Equals(X509Extensions.ExtendedKeyUsage) ? !profile.AllowExtendedKeyUsageOverride
            : true)?.Id;

    /// <summary>
    /// kur (RFC 9483 §4.1.3): the new certificate comes from the same CA and keeps the subject of the one it updates; a
    /// subject in the template, if any, must be that subject.
    /// </summary>
    private static X509Name CheckUpdate(X509CertificateStructure updated, CertTemplate template, CertificateAuthorityKeys ca)
    {
        if (!updated.Issuer.Equivalent(ca.Ca.Certificate.Subject))
        {
            throw new CmpFailureException(PkiFailureInfo.WrongAuthority, "the certificate to update was issued by another CA");
        }
        if (template.Subject is { } requested && requested.GetOidList().Count > 0 && !requested.Equivalent(updated.Subject, inOrder: false))
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the template's subject differs from the certificate to update");
        }
        return updated.Subject;
    }

    /// <summary>
    /// Client mode: the end entity must belong to this CA and the requested subject must be the registered one. A DN part
    /// that carries the enrollment code (DnPartPwd) is left out of the comparison unless the registration has it too.
    /// </summary>
    private static X509Name CheckRegistration(EndEntityView endEntity, CertTemplate template, CertificateAuthorityKeys ca, string dnPartPwdComponent)
    {
        if (endEntity.Ca != ca.Name)
        {
            throw new CmpFailureException(PkiFailureInfo.WrongAuthority, "the end entity is registered with another CA");
        }
        X509Name registered;
        try
        {
            registered = new X509Name(endEntity.SubjectDn);
        }
        catch (ArgumentException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the registered subject cannot be parsed");
        }
        X509Name requested = template.Subject;
        if (DnParts.Type(dnPartPwdComponent) is { } codePart && registered.GetValueList(codePart).Count == 0)
        {
            requested = DnParts.Without(requested, codePart);
        }
        if (!registered.Equivalent(requested, inOrder: false))
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the requested subject differs from the registered one");
        }
        return registered;
    }

    /// <summary>
    /// The template's key usage (RFC 5280 §4.2.1.3), where the profile allows a request to choose it; the CA bits
    /// (keyCertSign, cRLSign) are refused: an end entity is not a CA.
    /// </summary>
    private static int? RequestedKeyUsage(CertTemplate template) =>
        Requested(template, X509Extensions.KeyUsage, KeyUsage.GetInstance, "the template's keyUsage is not a KeyUsage value") is not { } usage ? null
        : (usage.IntValue & (KeyUsage.KeyCertSign | KeyUsage.CrlSign)) == 0 ? usage.IntValue
        : throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "keyCertSign and cRLSign are not granted to an end entity");

    /// <summary>The template's extended key usages (RFC 5280 §4.2.1.12), where the profile allows a request to choose them.</summary>
    private static IReadOnlyList<DerObjectIdentifier>? RequestedExtendedKeyUsages(CertTemplate template) =>
        Requested(template, X509Extensions.ExtendedKeyUsage, ExtendedKeyUsage.GetInstance,
            "the template's extendedKeyUsage is not an ExtendedKeyUsage value") is { } usages ? [.. usages.GetAllUsages()] : null;

    /// <summary>
    /// The template's subjectAltName, read before it is copied: a value that is not GeneralNames (RFC 5280 §4.2.1.6: one or
    /// more names) is badRequest, as in EJBCA's CMP error table ("invalid certificate extensions"), never a certificate that
    /// cannot be built.
    /// </summary>
    private static X509Extension? RequestedAltNames(CertTemplate template)
    {
        const string unreadable = "the template's subjectAltName is not a list of GeneralNames";
        return Requested(template, X509Extensions.SubjectAlternativeName, GeneralNames.GetInstance, unreadable) switch
        {
            null => null,
            { } names when names.GetNames().Length > 0 => template.Extensions.GetExtension(X509Extensions.SubjectAlternativeName),
            _ => throw new CmpFailureException(PkiFailureInfo.BadRequest, unreadable),
        };
    }

    /// <summary>
    /// A template extension the CA takes from the request, read with <paramref name="read"/> before it is used: absent is
    /// null, a value that does not read is badRequest with <paramref name="unreadable"/>.
    /// </summary>
    private static T? Requested<T>(CertTemplate template, DerObjectIdentifier oid, Func<object, T> read, string unreadable) where T : class
    {
        if (template.Extensions?.GetExtension(oid) is not { } extension)
        {
            return null;
        }
        try
        {
            return read(extension.GetParsedValue());
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or InvalidOperationException or IOException or FormatException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, unreadable);
        }
    }

    /// <summary>The admin API's "dns:", "ip:", "email:" and "uri:" names as RFC 5280 §4.2.1.6 GeneralNames.</summary>
    private static GeneralNames AltNames(IReadOnlyList<string> names) => new(names.Select(name =>
    {
        int colon = name.IndexOf(':');
        string kind = colon < 0 ? "" : name[..colon].ToLowerInvariant();
        string value = name[(colon + 1)..];
        return kind switch
        {
            "dns" => new GeneralName(GeneralName.DnsName, value),
            "ip" => new GeneralName(GeneralName.IPAddress, value),
            "email" => new GeneralName(GeneralName.Rfc822Name, value),
            "uri" => new GeneralName(GeneralName.UniformResourceIdentifier, value),
            _ => throw new CmpFailureException(PkiFailureInfo.SystemFailure, "a registered subjectAltName cannot be used"),
        };
    }).ToArray());
}

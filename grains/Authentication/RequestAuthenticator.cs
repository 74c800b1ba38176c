using System.Text;
using CmpCluster.Contracts;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Authentication;

public enum ProtectionKind
{
    PasswordBasedMac = 0,
    Signature = 1,
    /// <summary>Authenticated by a password inside the request (RegTokenPwd, DnPartPwd); the message itself may be unprotected.</summary>
    PasswordInRequest = 2,
    /// <summary>Unprotected inside a nested message whose RA signature verified, where the alias accepts that.</summary>
    OuterRa = 3,
}

/// <summary>
/// Who sent a request and how. <see cref="Mac"/> is set for MAC protection; <see cref="EndEntity"/> in client mode,
/// where the grant also opened the end entity's enrollment for this transaction.
/// </summary>
public sealed record Authenticated(
    string Principal, ProtectionKind Kind, byte[]? SenderKid, PasswordBasedMac? Mac, EndEntityView? EndEntity = null, CertificateRef? Updated = null)
{
    /// <summary>Vendor mode: the issuer of the vendor certificate that signed the request. OpenSSL puts it in the template's
    /// issuer field by default (-issuer defaults to the -cert's issuer); it is not a request for another CA.</summary>
    public X509Name? VendorIssuer { get; init; }

    /// <summary>Vendor mode: the serial number (hex) of the vendor certificate that signed the request.</summary>
    public string? VendorSerial { get; init; }
}

/// <summary>A certificate of this cluster by grain key, with its DER (the certificate a kur updates).</summary>
public sealed record CertificateRef(string Key, byte[] Der);

/// <summary>A signature-protecting certificate that verified and is ours, confirmed, unexpired and unrevoked.</summary>
public sealed record SignerCertificate(string Key, CertificateRecord Record, X509CertificateStructure Certificate);

/// <summary>The module names of EJBCA's CMP documentation ("CMP Message Authentication").</summary>
public static class AuthenticationModules
{
    public const string Hmac = "HMAC";
    public const string RegTokenPwd = "RegTokenPwd";
    public const string DnPartPwd = "DnPartPwd";
    public const string EndEntityCertificate = "EndEntityCertificate";

    public static bool IsKnown(string module, AliasMode mode) =>
        module is Hmac or EndEntityCertificate || (mode == AliasMode.Client && module is RegTokenPwd or DnPartPwd);
}

/// <summary>
/// Runs the alias's authentication modules in order; the first that succeeds wins (EJBCA's CMP documentation: "You can specify more than
/// one module"). EJBCA's CMP error table: a wrong user or enrollment code is <c>notAuthorized</c>; a request no module can
/// authenticate is <c>badMessageCheck</c>.
/// </summary>
public sealed partial class RequestAuthenticator(
    IGrainFactory grains, Microsoft.Extensions.Options.IOptions<Pki.PkiOptions> pki, Pki.PkiKeyRing keys, VendorCertificates vendors, ISubjectIndex subjects,
    TimeProvider time)
{
    /// <summary>Authenticates a request that opens a transaction.</summary>
    public async Task<Authenticated> AuthenticateAsync(
        DecodedRequest request, CmpAliasOptions alias, CmpLimits limits, string transactionKey, bool insideTrustedNested = false)
    {
        if (UnprotectedInsideTrustedNested(request, alias, insideTrustedNested) is { } byOuter)
        {
            return byOuter;
        }
        // 3GPP TS 33.310 on a vendor-mode alias: SHA-256 or SHA-384 protection, never SHA-1 or MD5.
        if (alias.VendorCertificateMode && request.ProtectionAlg is { } protection && !PasswordBasedMac.IsPasswordBasedMac(protection)
            && VendorCertificates.Weak(protection))
        {
            throw new CmpFailureException(PkiFailureInfo.BadAlg, "SHA-1 and MD5 are not accepted (3GPP TS 33.310)");
        }
        // Nested (RFC 9810 §5.1.3.4): the outer message is an RA's, signed with a certificate of one of the alias's RA administrators.
        if (request.BodyType == PkiBodyType.Nested)
        {
            if (alias.NestedRaTrustAnchors is { Length: > 0 } anchors && SignedByForeignCertificate(request))
            {
                X509CertificateStructure ra = vendors.Verify(request, anchors, []);
                return new Authenticated("ra-nested:" + ra.Subject, ProtectionKind.Signature, request.SenderKid, null);
            }
            return await RaAdministratorAsync(request, alias);
        }
        // Key update is authenticated by certificates in both modes; client-mode revocation by the owner's certificate.
        if (request.BodyType == PkiBodyType.Kur)
        {
            return await AuthenticateKeyUpdateAsync(request, alias, transactionKey);
        }
        if (request.BodyType is PkiBodyType.Rr or PkiBodyType.Genm && alias.Mode == AliasMode.Client)
        {
            return await AuthenticateCertificateHolderAsync(request, alias);
        }
        CmpFailure? notAuthorized = null, other = null;
        foreach (string module in alias.Modules)
        {
            try
            {
                return (alias.Mode, module) switch
                {
                    (AliasMode.Ra, AuthenticationModules.Hmac) => RaHmac(request, alias, limits, pki.Value.CmpRaSecretOf(alias.Ca, request.SenderKid)),
                    (AliasMode.Ra, AuthenticationModules.EndEntityCertificate) => await RaAdministratorAsync(request, alias),
                    (AliasMode.Client, _) => await ClientModuleAsync(module, request, alias, limits, transactionKey),
                    _ => throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, $"authentication module {module} is not available"),
                };
            }
            catch (CmpFailureException e) when (e.Failure.FailInfo == PkiFailureInfo.NotAuthorized)
            {
                notAuthorized ??= e.Failure;
            }
            catch (CmpFailureException e)
            {
                other = e.Failure;
            }
        }
        throw new CmpFailureException(notAuthorized ?? other ?? new CmpFailure(PkiFailureInfo.BadMessageCheck, "no authentication module is configured"));
    }

    /// <summary>
    /// Whether <see cref="AuthenticateFollowUpAsync"/> asks the end entity again for a client-mode transaction that started
    /// with <paramref name="first"/> (MAC with the consumed code, or a signature by its certificate): the end entity then
    /// keeps its activation for that follow-up (<see cref="IEndEntityGrain.CompleteEnrollmentAsync"/>).
    /// </summary>
    public static bool EndEntityVerifiesFollowUp(ProtectionKind first) => first is ProtectionKind.Signature or ProtectionKind.PasswordBasedMac;

    /// <summary>
    /// Authenticates a follow-up (certConf) of a transaction that was authenticated as <paramref name="first"/>:
    /// same kind of protection, and in client mode the end entity's consumed code still verifies for this transaction.
    /// </summary>
    public async Task<Authenticated> AuthenticateFollowUpAsync(
        DecodedRequest request, CmpAliasOptions alias, CmpLimits limits, string transactionKey, ProtectionKind first, string? username,
        bool insideTrustedNested = false)
    {
        if (first == ProtectionKind.OuterRa)
        {
            return UnprotectedInsideTrustedNested(request, alias, insideTrustedNested)
                ?? throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the transaction started inside a trusted RA's nested message; follow-ups must too");
        }
        if (alias.Mode == AliasMode.Ra)
        {
            return first == ProtectionKind.Signature ? await RaAdministratorAsync(request, alias) : RaHmac(request, alias, limits, pki.Value.CmpRaSecretOf(alias.Ca, request.SenderKid));
        }
        if (username is null)
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the transaction has no end entity");
        }
        if (first == ProtectionKind.Signature && alias.VendorCertificateMode && SignedByForeignCertificate(request))
        {
            vendors.Verify(request, alias);
            EnrollmentGrant byVendor = await EndEntity(username).VerifyFollowUpAsync(transactionKey, VendorProof);
            return FromGrant(byVendor, request, username, ProtectionKind.Signature);
        }
        if (first == ProtectionKind.Signature)
        {
            string certificateKey = (await VerifySignerAsync(request, requiredCa: null)).Key;
            EnrollmentGrant byCertificate = await EndEntity(username).VerifyFollowUpAsync(transactionKey, new EnrollmentProof(null, null, null, null, certificateKey));
            return FromGrant(byCertificate, request, username, ProtectionKind.Signature);
        }
        if (PasswordBasedMac.IsPasswordBasedMac(request.ProtectionAlg))
        {
            EnrollmentGrant grant = await EndEntity(username).VerifyFollowUpAsync(transactionKey, MacProof(request, limits));
            return FromGrant(grant, request, username, ProtectionKind.PasswordBasedMac);
        }
        if (first == ProtectionKind.PasswordInRequest && request.ProtectionAlg is null)
        {
            // The transaction was opened by a password inside the request; its certConf carries none. It is bound to
            // the transaction by transactionID and the nonce chain, and can only confirm or reject what was issued.
            return new Authenticated("ee:" + username, ProtectionKind.PasswordInRequest, request.SenderKid, null);
        }
        throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the follow-up is not protected as the transaction requires");
    }

    /// <summary>
    /// Vendor certificate mode: the verified vendor certificate names the end entity by its CN (or UID, per UserLookup), with
    /// the alias's prefix and postfix; the registered end entity must be NEW (the vendor certificate works like a code).
    /// </summary>
    private async Task<Authenticated> VendorAsync(DecodedRequest request, CmpAliasOptions alias, string transactionKey)
    {
        X509CertificateStructure vendor = vendors.Verify(request, alias);
        DerObjectIdentifier part = alias.UserLookup == UserLookup.Uid ? X509Name.UID : X509Name.CN;
        string device = DnParts.SingleValue(vendor.Subject, part)
            ?? throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "the vendor certificate's subject has no single " + (alias.UserLookup == UserLookup.Uid ? "UID" : "CN"));
        string username = alias.RaNameGenerationPrefix + device + alias.RaNameGenerationPostfix;
        EnrollmentGrant grant = await EndEntity(username).BeginEnrollmentAsync(transactionKey, VendorProof);
        return FromGrant(grant, request, username, ProtectionKind.Signature) with
        {
            VendorIssuer = vendor.Issuer, VendorSerial = vendor.SerialNumber.Value.ToString(16).ToUpperInvariant(),
        };
    }

    private static readonly EnrollmentProof VendorProof = new(null, null, null, null, null, VendorCertificate: true);

    /// <summary>Signature-protected with a first extraCert that no CA of this cluster issued (a vendor's, in vendor mode).</summary>
    private bool SignedByForeignCertificate(DecodedRequest request) =>
        request.ProtectionAlg is { } algorithm && !PasswordBasedMac.IsPasswordBasedMac(algorithm)
        && request.Message.GetExtraCerts() is [{ X509v3PKCert: { } signer }, ..]
        && keys.FindByIssuer(signer.Issuer) is null;

    /// <summary>An unprotected message inside a nested message that a trusted RA signed, on an RA alias that accepts that
    /// (client mode always needs the end entity's own proof).</summary>
    private static Authenticated? UnprotectedInsideTrustedNested(DecodedRequest request, CmpAliasOptions alias, bool insideTrustedNested) =>
        request.ProtectionAlg is null && insideTrustedNested && alias.AcceptUnprotectedInnerMessages && alias.Mode == AliasMode.Ra
            ? new Authenticated("ra-nested", ProtectionKind.OuterRa, request.SenderKid, null)
            : null;

    /// <summary>RA mode HMAC: PasswordBasedMac with the alias secret (RFC 4211 §4.4); the senderKID names the RA.</summary>
    private static Authenticated RaHmac(DecodedRequest request, CmpAliasOptions alias, CmpLimits limits, string? caSecret)
    {
        // The alias's own secret wins; without one the CA's RA secret serves (EJBCA's CMP documentation: "Using one authentication secret per CA").
        string? secret = string.IsNullOrEmpty(alias.Secret) ? caSecret : alias.Secret;
        if (!PasswordBasedMac.IsPasswordBasedMac(request.ProtectionAlg))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "HMAC authentication needs MAC protection (PasswordBasedMac or PBMAC1)");
        }
        if (string.IsNullOrEmpty(secret))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "no shared secret is configured for this alias");
        }
        string? kid = request.SenderKid is null ? null : Encoding.UTF8.GetString(request.SenderKid);
        if (alias.SenderKid is not null && !string.Equals(alias.SenderKid, kid, StringComparison.Ordinal))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "senderKID is not known");
        }
        PasswordBasedMac mac = PasswordBasedMac.Derive(request.ProtectionAlg!, Encoding.UTF8.GetBytes(secret), limits);
        if (!mac.Verify(request.ProtectedPart(), request.Message.Protection.GetOctets()))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "message authentication code does not verify");
        }
        return new Authenticated("ra:" + (kid ?? "(no senderKID)"), ProtectionKind.PasswordBasedMac, request.SenderKid, mac);
    }

    /// <summary>Client mode (EJBCA's CMP documentation: "Client Mode for CMP"): the end entity named by the requested subject proves its code.</summary>
    private async Task<Authenticated> ClientModuleAsync(string module, DecodedRequest request, CmpAliasOptions alias, CmpLimits limits, string transactionKey)
    {
        if (module == AuthenticationModules.EndEntityCertificate && alias.VendorCertificateMode && SignedByForeignCertificate(request))
        {
            return await VendorAsync(request, alias, transactionKey);
        }
        CertRequest certRequest = SingleCertRequest(request);
        X509Name subject = certRequest.CertTemplate.Subject
            ?? throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "the template has no subject to find the end entity by");
        string username = await LookUpAsync(subject, alias)
            ?? throw new CmpFailureException(PkiFailureInfo.NotAuthorized, $"no single end entity matches the requested subject by {alias.UserLookup}");
        (EnrollmentProof proof, ProtectionKind kind) = module switch
        {
            AuthenticationModules.EndEntityCertificate =>
                (new EnrollmentProof(null, null, null, null, (await VerifySignerAsync(request, requiredCa: null)).Key), ProtectionKind.Signature),
            AuthenticationModules.Hmac when PasswordBasedMac.IsPasswordBasedMac(request.ProtectionAlg) => (MacProof(request, limits), ProtectionKind.PasswordBasedMac),
            AuthenticationModules.Hmac => throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "HMAC authentication needs MAC protection (PasswordBasedMac or PBMAC1)"),
            AuthenticationModules.RegTokenPwd => (new EnrollmentProof(RegToken(certRequest)
                ?? throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the request has no regToken control"), null, null, null), ProtectionKind.PasswordInRequest),
            AuthenticationModules.DnPartPwd => (new EnrollmentProof((DnParts.Type(alias.DnPartPwdComponent) is { } codePart ? DnParts.SingleValue(subject, codePart) : null)
                ?? throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, $"the requested subject has no {alias.DnPartPwdComponent}"), null, null, null), ProtectionKind.PasswordInRequest),
            _ => throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, $"authentication module {module} is not available"),
        };
        if (kind == ProtectionKind.PasswordInRequest && request.ProtectionAlg is not null && !PasswordBasedMac.IsPasswordBasedMac(request.ProtectionAlg))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "signature protection needs the EndEntityCertificate module");
        }
        EnrollmentGrant grant = await EndEntity(username).BeginEnrollmentAsync(transactionKey, proof);
        return FromGrant(grant, request, username, kind);
    }

    /// <summary>
    /// EJBCA's CMP documentation, "EndEntityCertificate", RA mode: the signer certificate was issued by the alias's CA and belongs to one of the
    /// alias's RA administrators (end entities listed in <see cref="CmpAliasOptions.RaAdministrators"/>).
    /// </summary>
    private async Task<Authenticated> RaAdministratorAsync(DecodedRequest request, CmpAliasOptions alias)
    {
        string certificateKey = (await VerifySignerAsync(request, alias.Ca == CmpAliasOptions.KeyId ? null : alias.Ca)).Key;
        foreach (string administrator in alias.RaAdministrators ?? [])
        {
            if (await EndEntity(administrator).GetAsync() is { } view && view.CertificateKeys.Contains(certificateKey))
            {
                return new Authenticated("ra-admin:" + administrator, ProtectionKind.Signature, request.SenderKid, null);
            }
        }
        throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "the signer is not an RA administrator of this alias");
    }

    /// <summary>
    /// Signature protection with the signer certificate first in extraCerts (RFC 9483 §3.3): the signature verifies,
    /// and the certificate is one this cluster issued, stored byte for byte, confirmed, unexpired and unrevoked (EJBCA's CMP documentation:
    /// a revoked or expired RA signing certificate is badRequest).
    /// </summary>
    private async Task<SignerCertificate> VerifySignerAsync(DecodedRequest request, string? requiredCa)
    {
        X509CertificateStructure signer = SignedRequests.VerifiedSigner(request);
        Pki.CertificateAuthorityKeys ca = keys.FindByIssuer(signer.Issuer)
            ?? throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the signer certificate was not issued by a CA of this cluster");
        if (requiredCa is not null && ca.Name != requiredCa)
        {
            throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "the signer certificate was issued by another CA");
        }
        string key = GrainKeys.Certificate(ca.Name, signer.SerialNumber.Value.ToString(16).ToUpperInvariant());
        CertificateRecord? record = await grains.GetGrain<ICertificateGrain>(key).GetAsync();
        if (record?.Der is not { } der || !der.AsSpan().SequenceEqual(signer.GetEncoded(Asn1Encodable.Der)))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the signer certificate is not known");
        }
        DateTimeOffset now = time.GetUtcNow();
        if (record.Status != CertificateStatus.Confirmed || now < signer.StartDate.ToDateTime() || now > signer.EndDate.ToDateTime())
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "the signer certificate is revoked, unconfirmed or expired");
        }
        return new SignerCertificate(key, record, signer);
    }

    private static Authenticated FromGrant(EnrollmentGrant grant, DecodedRequest request, string username, ProtectionKind kind) => grant.Refusal switch
    {
        EnrollmentRefusal.None => new Authenticated("ee:" + username, kind, request.SenderKid,
            grant.MacKey is { } key ? PasswordBasedMac.FromDerivedKey(request.ProtectionAlg!, key) : null, grant.EndEntity),
        EnrollmentRefusal.EnrollmentOpen => throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "another enrollment of this end entity is open"),
        EnrollmentRefusal.BadMacParameters => throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "PBM parameters are not acceptable"),
        _ => throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "wrong user or enrollment code"),
    };

    /// <summary>EJBCA's CMP documentation, "User look-up": by the whole subject DN (through the DN index), or by its CN or UID as the username.</summary>
    private async Task<string?> LookUpAsync(X509Name subject, CmpAliasOptions alias)
    {
        switch (alias.UserLookup)
        {
            case UserLookup.Dn:
                IReadOnlyList<string> usernames = await subjects.FindAsync(DnCanonical.Key(subject));
                X509Name withoutCode = DnParts.Without(subject, alias.DnPartPwdComponent);
                if (usernames.Count == 0 && !ReferenceEquals(withoutCode, subject))
                {
                    // A DnPartPwd code inside the requested DN is not part of the registered subject.
                    usernames = await subjects.FindAsync(DnCanonical.Key(withoutCode));
                }
                return usernames.Count == 1 ? usernames[0] : null;
            case UserLookup.Uid:
                return DnParts.SingleValue(subject, X509Name.UID);
            default:
                return DnParts.SingleValue(subject, X509Name.CN);
        }
    }

    private IEndEntityGrain EndEntity(string username) => grains.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username));

    /// <summary>A MAC proof for the end-entity grain, whose parameters already passed this alias's floors (no hashing yet).</summary>
    private static EnrollmentProof MacProof(DecodedRequest request, CmpLimits limits)
    {
        PasswordBasedMac.Check(request.ProtectionAlg!, limits);
        return new(null, request.ProtectionAlg!.GetEncoded(Asn1Encodable.Der), request.ProtectedPart(), request.Message.Protection.GetOctets());
    }

    private static CertRequest SingleCertRequest(DecodedRequest request)
    {
        if (request.BodyType is not (PkiBodyType.Ir or PkiBodyType.Cr or PkiBodyType.P10Cr or PkiBodyType.Kur))
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, $"{request.BodyType} cannot open a client-mode transaction");
        }
        IReadOnlyList<CertReqMsg> messages = request.CertRequests;
        return messages.Count == 1
            ? messages[0].CertReq
            : throw new CmpFailureException(PkiFailureInfo.BadRequest, "exactly one CertReqMsg is supported per request");
    }

    /// <summary>RFC 4211 §6.1: id-regCtrl-regToken, a UTF8String with the one-time secret.</summary>
    private static string? RegToken(CertRequest request)
    {
        AttributeTypeAndValue? control = request.Controls?.ToAttributeTypeAndValueArray()
            .FirstOrDefault(c => c.Type.Equals(CrmfObjectIdentifiers.id_regCtrl_regToken));
        return control?.Value is DerUtf8String token ? token.GetString() : null;
    }
}

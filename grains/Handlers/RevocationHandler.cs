using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Handlers;

/// <summary>
/// rr, RFC 9810 §5.3.9 and RFC 9483 §4.2: one RevDetails naming issuer and serial, the reason in a CRLReason entry
/// extension. Failures follow EJBCA's CMP error table; the certificate grain makes the revocation happen exactly once.
/// </summary>
public sealed class RevocationHandler(IGrainFactory grains, PkiKeyRing keys, IOptionsMonitor<CmpOptions> options)
{
    public async Task<RevocationReply> HandleAsync(IReadOnlyList<RevDetails> content, CmpAliasOptions alias, Authenticated requester, string transactionKey)
    {
        try
        {
            return await RevokeAsync(content, alias, requester, transactionKey);
        }
        catch (CmpFailureException e)
        {
            return new RevocationReply(e.Failure, null, null);
        }
    }

    private async Task<RevocationReply> RevokeAsync(IReadOnlyList<RevDetails> content, CmpAliasOptions alias, Authenticated requester, string transactionKey)
    {
        // RFC 9483 §4.2: exactly one RevDetails per request.
        if (content is not [RevDetails details])
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "exactly one RevDetails is supported per request");
        }
        CertTemplate template = details.CertDetails;
        // EJBCA's CMP error table: serial number or issuer missing is badCertId.
        if (template.SerialNumber is not { } serial || template.Issuer is not { } issuer || serial.Value.SignValue <= 0)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertId, "the template must name the issuer and a positive serial number");
        }
        // EJBCA's CMP error table: a CA that does not exist is badRequest.
        CertificateAuthorityKeys ca = keys.FindByIssuer(issuer)
            ?? throw new CmpFailureException(PkiFailureInfo.BadRequest, "the issuer is not a CA of this cluster");
        if (alias.Ca != CmpAliasOptions.KeyId && alias.Ca != ca.Name)
        {
            throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "the certificate's CA is not served by this alias");
        }
        (RevocationReason reason, DateTimeOffset? invalidityDate) = ReadEntryDetails(details.CrlEntryDetails);

        string key = GrainKeys.Certificate(ca.Name, serial.Value.ToString(16).ToUpperInvariant());
        // Client mode: only the owner revokes. Checked before existence, so a stranger learns nothing about serials.
        if (requester.EndEntity is { } owner && !owner.CertificateKeys.Contains(key))
        {
            throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "an end entity may only revoke its own certificates");
        }
        ICertificateGrain certificate = grains.GetGrain<ICertificateGrain>(key);
        CertificateRecord record = await certificate.GetAsync() is { Der: not null } issued
            ? issued
            : throw new CmpFailureException(PkiFailureInfo.BadCertId, "no certificate with this issuer and serial number was issued");
        if (template.Subject is { } subject && subject.GetOidList().Count > 0
            && !X509CertificateStructure.GetInstance(record.Der).Subject.Equivalent(subject, inOrder: false))
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertId, "the template's subject is not the certificate's");
        }
        if (reason is RevocationReason.CertificateHold or RevocationReason.RemoveFromCrl && !AllowsHold(record, alias))
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "the certificate profile does not allow certificateHold");
        }

        RevocationResult result = await certificate.RevokeAsync(new RevocationRequest(reason, $"rr by {requester.Principal} in {transactionKey}", invalidityDate));
        return result switch
        {
            RevocationResult.Revoked or RevocationResult.Released => new RevocationReply(null, key, reason),
            // EJBCA's CMP error table: already revoked is certRevoked.
            RevocationResult.AlreadyRevoked => throw new CmpFailureException(PkiFailureInfo.CertRevoked, "the certificate is already revoked"),
            RevocationResult.NotOnHold => throw new CmpFailureException(PkiFailureInfo.BadRequest, "removeFromCRL applies only to a certificate on hold"),
            _ => throw new CmpFailureException(PkiFailureInfo.BadCertId, "no certificate with this issuer and serial number was issued"),
        };
    }

    /// <summary>
    /// RFC 5280 §5.3.1 reasonCode (ENUMERATED; 7 is unassigned) and §5.3.2 invalidityDate. Absent reason: unspecified.
    /// EJBCA's CMP error table: a reason that cannot be parsed is incorrectData.
    /// </summary>
    private static (RevocationReason, DateTimeOffset?) ReadEntryDetails(X509Extensions? extensions)
    {
        RevocationReason reason = RevocationReason.Unspecified;
        DateTimeOffset? invalidityDate = null;
        try
        {
            if (extensions?.GetExtension(X509Extensions.ReasonCode) is { } reasonExtension)
            {
                int value = DerEnumerated.GetInstance(reasonExtension.GetParsedValue()).IntValueExact;
                reason = value is >= 0 and <= 10 and not 7
                    ? (RevocationReason)value
                    : throw new CmpFailureException(PkiFailureInfo.IncorrectData, $"{value} is not a CRLReason");
            }
            if (extensions?.GetExtension(X509Extensions.InvalidityDate) is { } invalidity)
            {
                invalidityDate = new DateTimeOffset(Asn1GeneralizedTime.GetInstance(invalidity.GetParsedValue()).ToDateTime().ToUniversalTime());
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or IOException or FormatException or ArithmeticException)
        {
            throw new CmpFailureException(PkiFailureInfo.IncorrectData, "the revocation reason or invalidity date cannot be parsed");
        }
        return (reason, invalidityDate);
    }

    /// <summary>The profile the certificate was issued under decides; older records without one use the alias's.</summary>
    private bool AllowsHold(CertificateRecord record, CmpAliasOptions alias)
    {
        string? name = record.Intent.Profile ?? (alias.CertificateProfile == CmpAliasOptions.KeyId ? null : alias.CertificateProfile);
        return name is not null && options.CurrentValue.Profiles.GetValueOrDefault(name) is { AllowCertificateHold: true };
    }
}

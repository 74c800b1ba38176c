using CmpCluster.Contracts;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Authentication;

/// <summary>Authentication of the certificate lifecycle requests: key update (kur) and client-mode revocation (rr).</summary>
public sealed partial class RequestAuthenticator
{
    /// <summary>How many of an end entity's newest certificates an RA-mode kur looks through for the one to update.</summary>
    private const int MaxUpdateCandidates = 16;

    /// <summary>
    /// kur (EJBCA's CMP documentation, "Key Update Request"). Client mode: the end entity signs with the certificate it updates, attached in
    /// extraCerts. RA mode: an RA administrator signs, and the template names the certificate to update by subject (and
    /// optionally issuer) or by the oldCertID control. Either way the end entity's enrollment is opened for this transaction,
    /// so a second update cannot start while this one awaits confirmation.
    /// </summary>
    private async Task<Authenticated> AuthenticateKeyUpdateAsync(DecodedRequest request, CmpAliasOptions alias, string transactionKey)
    {
        // EJBCA's CMP error table: a key update without the EndEntityCertificate module configured is badRequest.
        if (!alias.Modules.Contains(AuthenticationModules.EndEntityCertificate))
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "key update needs the EndEntityCertificate authentication module");
        }
        CertRequest certRequest = SingleCertRequest(request);
        CertId? oldCertId = OldCertId(certRequest);
        string principal;
        string username;
        CertificateRef target;
        if (alias.Mode == AliasMode.Client)
        {
            SignerCertificate signer = await VerifySignerAsync(request, requiredCa: null);
            // RFC 9483 §4.1.3: the certificate to update protects the request; oldCertID, when given, must name that one.
            if (oldCertId is not null && !Names(oldCertId, signer.Certificate))
            {
                throw new CmpFailureException(PkiFailureInfo.NotAuthorized, "an end entity may only update the certificate it signs with");
            }
            username = signer.Record.Intent.EndEntity
                ?? throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the signing certificate belongs to no known end entity");
            target = new CertificateRef(signer.Key, signer.Record.Der!);
            principal = "ee:" + username;
        }
        else
        {
            principal = (await RaAdministratorAsync(request, alias)).Principal;
            (username, target) = await FindUpdateTargetAsync(certRequest.CertTemplate, oldCertId);
        }
        EnrollmentGrant grant = await EndEntity(username).BeginEnrollmentAsync(transactionKey, new EnrollmentProof(null, null, null, null, target.Key));
        return grant.Refusal switch
        {
            EnrollmentRefusal.None => new Authenticated(principal, ProtectionKind.Signature, request.SenderKid, null, grant.EndEntity, target),
            EnrollmentRefusal.EnrollmentOpen => throw new CmpFailureException(PkiFailureInfo.NotAuthorized,
                "another key update or enrollment of this end entity is still open"),
            // EJBCA's CMP error table: a key update for an end entity that is not found is badMessageCheck.
            _ => throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the end entity of the certificate to update was not found"),
        };
    }

    /// <summary>
    /// RA-mode kur: the certificate named by oldCertID, or else the newest valid certificate of the one end entity whose
    /// registered subject is the template's subject (EJBCA's CMP documentation: "Either only the subjectDN or both the subjectDN and the issuerDN").
    /// </summary>
    private async Task<(string Username, CertificateRef Target)> FindUpdateTargetAsync(CertTemplate template, CertId? oldCertId)
    {
        // EJBCA's CMP error table: a key update without a subject DN is badRequest.
        X509Name subject = template.Subject is { } named && named.GetOidList().Count > 0
            ? named
            : throw new CmpFailureException(PkiFailureInfo.BadRequest, "the template must name the subject of the certificate to update");
        if (oldCertId is not null)
        {
            X509Name issuer = X509Name.GetInstance(oldCertId.Issuer.Name);
            Pki.CertificateAuthorityKeys ca = keys.FindByIssuer(issuer)
                ?? throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "oldCertID names a CA that is not served here");
            string key = GrainKeys.Certificate(ca.Name, oldCertId.SerialNumber.Value.ToString(16).ToUpperInvariant());
            CertificateRecord record = await grains.GetGrain<ICertificateGrain>(key).GetAsync() is { Intent.EndEntity: not null } found
                ? found
                : throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "oldCertID names no certificate of a known end entity");
            if (!IsUpdatable(record, subject, template.Issuer))
            {
                throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the certificate named by oldCertID is not valid or not the template's subject");
            }
            return (record.Intent.EndEntity!, new CertificateRef(key, record.Der!));
        }
        IReadOnlyList<string> usernames = await subjects.FindAsync(EndEntities.DnCanonical.Key(subject));
        if (usernames is not [string username] || await EndEntity(username).GetAsync() is not { } view)
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "no single end entity has the template's subject");
        }
        foreach (string key in view.CertificateKeys.Reverse().Take(MaxUpdateCandidates))
        {
            if (await grains.GetGrain<ICertificateGrain>(key).GetAsync() is { } record && IsUpdatable(record, subject, template.Issuer))
            {
                return (username, new CertificateRef(key, record.Der!));
            }
        }
        throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the end entity has no valid certificate to update");
    }

    /// <summary>Confirmed, unexpired, with the template's subject (and issuer, when the template gives one).</summary>
    private bool IsUpdatable(CertificateRecord record, X509Name subject, X509Name? issuer)
    {
        if (record is not { Status: CertificateStatus.Confirmed, Der: { } der })
        {
            return false;
        }
        var certificate = X509CertificateStructure.GetInstance(der);
        DateTimeOffset now = time.GetUtcNow();
        return now >= certificate.StartDate.ToDateTime() && now <= certificate.EndDate.ToDateTime()
            && certificate.Subject.Equivalent(subject, inOrder: false)
            && (issuer is null || certificate.Issuer.Equivalent(issuer));
    }

    /// <summary>
    /// rr and genm in client mode: an end entity proves itself by a signature with one of its own valid certificates (for
    /// rr the handler then checks that the certificate to revoke is also the owner's). Client mode has no code to check
    /// outside an enrollment.
    /// </summary>
    private async Task<Authenticated> AuthenticateCertificateHolderAsync(DecodedRequest request, CmpAliasOptions alias)
    {
        if (!alias.Modules.Contains(AuthenticationModules.EndEntityCertificate))
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, $"{request.BodyType} in client mode needs the EndEntityCertificate authentication module");
        }
        SignerCertificate signer = await VerifySignerAsync(request, requiredCa: null);
        string username = signer.Record.Intent.EndEntity
            ?? throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the signing certificate belongs to no known end entity");
        EndEntityView view = await EndEntity(username).GetAsync()
            ?? throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the end entity of the signing certificate was not found");
        return new Authenticated("ee:" + username, ProtectionKind.Signature, request.SenderKid, null, view);
    }

    /// <summary>RFC 4211 §6.5 id-regCtrl-oldCertID: the issuer and serial of the certificate to update.</summary>
    private static CertId? OldCertId(CertRequest request)
    {
        AttributeTypeAndValue? control = request.Controls?.ToAttributeTypeAndValueArray()
            .FirstOrDefault(c => c.Type.Equals(CrmfObjectIdentifiers.id_regCtrl_oldCertID));
        if (control is null)
        {
            return null;
        }
        try
        {
            CertId id = CertId.GetInstance(control.Value);
            return id.Issuer.TagNo == GeneralName.DirectoryName
                ? id
                : throw new CmpFailureException(PkiFailureInfo.BadRequest, "oldCertID must name its issuer by directory name");
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or InvalidOperationException)
        {
            // InvalidOperationException: a wrongly tagged GeneralName inside CertId (fuzz/regressions/request).
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "oldCertID is malformed");
        }
    }

    private static bool Names(CertId id, X509CertificateStructure certificate) =>
        X509Name.GetInstance(id.Issuer.Name).Equivalent(certificate.Issuer) && id.SerialNumber.Value.Equals(certificate.SerialNumber.Value);
}

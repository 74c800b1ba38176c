using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Validation;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;

namespace CmpCluster.Grains.Handlers;

/// <summary>
/// genm support messages, RFC 9483 §4.3: CA certificates, root CA update, certificate request template and CRL update
/// retrieval. Each requested InfoTypeAndValue gets its answer in one genp; an infoType we do not know is left out of the
/// answer (RFC 9810 §5.3.19: the receiver may ignore OIDs it does not recognize), so an unknown one alone gets an empty genp.
/// </summary>
public sealed class GenmHandler(IGrainFactory grains, RootCaUpdates rootUpdates, IOptions<PkiOptions> pki, IOptionsMonitor<CmpOptions> options)
{
    public async Task<InformationReply> HandleAsync(IReadOnlyList<InfoTypeAndValue> requested, CmpAliasOptions alias, CertificateAuthorityKeys ca, string? profileName)
    {
        if (requested.Count > options.CurrentValue.Limits.MaxGeneralInfo)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "too many InfoTypeAndValue entries");
        }
        var answers = new List<InfoTypeAndValue>();
        foreach (InfoTypeAndValue item in requested)
        {
            DerObjectIdentifier type = item.InfoType;
            if (type.Equals(CmpObjectIdentifiers.id_it_caCerts))
            {
                // §4.3.1: the CA certificates a client needs: the issuing CA and the root.
                answers.Add(new InfoTypeAndValue(type, new DerSequence(ca.CaChain.Select(c => (Asn1Encodable)new CmpCertificate(c)).ToArray())));
            }
            else if (type.Equals(CmpObjectIdentifiers.id_it_rootCaCert))
            {
                answers.Add(RootCaKeyUpdate(item, ca));
            }
            else if (type.Equals(CmpObjectIdentifiers.id_it_certReqTemplate))
            {
                answers.Add(new InfoTypeAndValue(type, CertRequestTemplate(alias, profileName)));
            }
            else if (type.Equals(CmpObjectIdentifiers.id_it_crlStatusList))
            {
                answers.Add(await CrlsAsync(item, ca));
            }
        }
        return new InformationReply(answers);
    }

    /// <summary>
    /// §4.3.2: newWithNew, newWithOld and oldWithNew when a rollover of the client's root is configured; an
    /// id-it-rootCaKeyUpdate without value when there is none (or the client already has the new root).
    /// </summary>
    private InfoTypeAndValue RootCaKeyUpdate(InfoTypeAndValue request, CertificateAuthorityKeys ca)
    {
        X509CertificateStructure? clientRoot;
        try
        {
            clientRoot = request.InfoValue is null ? null : CmpCertificate.GetInstance(request.InfoValue).X509v3PKCert;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // BouncyCastle throws InvalidOperationException for a wrongly tagged value (fuzz/regressions/request).
            throw new CmpFailureException(PkiFailureInfo.BadDataFormat, "rootCaCert is not a certificate");
        }
        RootCaUpdate? update = rootUpdates.For(ca.Name);
        bool applies = update is not null && (clientRoot is null || clientRoot.Equals(ca.Root)) && !ca.Root.Equals(update.NewWithNew);
        return applies
            ? new InfoTypeAndValue(CmpObjectIdentifiers.id_it_rootCaKeyUpdate, new RootCaKeyUpdateContent(
                new CmpCertificate(update!.NewWithNew), Optional(update.NewWithOld), Optional(update.OldWithNew)))
            : new InfoTypeAndValue(CmpObjectIdentifiers.id_it_rootCaKeyUpdate);
    }

    private static CmpCertificate? Optional(X509CertificateStructure? certificate) => certificate is null ? null : new CmpCertificate(certificate);

    /// <summary>
    /// §4.3.3: what the alias's certificate profile will issue, as a CertTemplate (extensions the profile sets; subject and
    /// key left to the client) and the key types the profile certifies (id-regCtrl-algId per allowed curve; id-regCtrl-rsaKeyLen
    /// with its smallest RSA size).
    /// </summary>
    private CertReqTemplateContent CertRequestTemplate(CmpAliasOptions alias, string? profileName)
    {
        string name = profileName ?? alias.CertificateProfile;
        CertificateProfileOptions profile = options.CurrentValue.Profiles.GetValueOrDefault(name)
            ?? throw new CmpFailureException(PkiFailureInfo.BadRequest, "this alias names its certificate profile per request (KeyID); ask with a senderKID");
        var extensions = new X509ExtensionsGenerator();
        int usage = profile.KeyUsages.Aggregate(0, (bits, n) => bits | Certificates.ProfileExtensions.KeyUsageBit(n));
        if (usage != 0)
        {
            extensions.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(usage));
        }
        if (profile.ExtendedKeyUsages.Count > 0)
        {
            extensions.AddExtension(X509Extensions.ExtendedKeyUsage, false,
                new ExtendedKeyUsage(profile.ExtendedKeyUsages.Select(Certificates.ProfileExtensions.ExtendedKeyUsageOid).ToArray()));
        }
        var template = new CertTemplateBuilder().SetExtensions(extensions.Generate()).Build();
        var algorithmId = new DerObjectIdentifier("1.3.6.1.5.5.7.5.1.11"); // id-regCtrl-algId, RFC 9483 §4.3.3
        var rsaKeyLength = new DerObjectIdentifier("1.3.6.1.5.5.7.5.1.12"); // id-regCtrl-rsaKeyLen
        var keySpec = new List<Asn1Encodable>();
        if (profile.KeyAlgorithms.Contains("EC", StringComparer.OrdinalIgnoreCase))
        {
            keySpec.AddRange(profile.Curves.Where(PublicKeyRules.NamedCurves.ContainsKey).Select(curve => new AttributeTypeAndValue(
                algorithmId, new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, PublicKeyRules.NamedCurves[curve].Oid))));
        }
        if (profile.KeyAlgorithms.Contains("RSA", StringComparer.OrdinalIgnoreCase))
        {
            keySpec.Add(new AttributeTypeAndValue(rsaKeyLength, DerInteger.ValueOf(profile.MinRsaBits)));
        }
        return new CertReqTemplateContent(template, new DerSequence(keySpec.ToArray()));
    }

    /// <summary>
    /// §4.3.4: for each CRLStatus that names this CA (by issuer, or by the distribution point in its certificates), the
    /// current CRL unless the client's thisUpdate is already that of the current CRL; id-it-crls without value when there
    /// is nothing newer. The issuer names the CRL of the current key, a distribution point the CRL of the key it belongs
    /// to (a retired key's, <c>pki renew-ca --new-key</c>).
    /// </summary>
    private async Task<InfoTypeAndValue> CrlsAsync(InfoTypeAndValue request, CertificateAuthorityKeys ca)
    {
        CrlStatus[] statuses;
        try
        {
            statuses = Asn1Sequence.GetInstance(request.InfoValue).Cast<Asn1Encodable>().Select(CrlStatus.GetInstance).ToArray();
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or NullReferenceException or InvalidOperationException)
        {
            // InvalidOperationException: a CRLSource with implicit instead of explicit tags (RFC 9810 Appendix F is
            // EXPLICIT TAGS; fuzz/regressions/request/genm-crlsource-issuer-implicit-invalidoperation.der).
            throw new CmpFailureException(PkiFailureInfo.BadDataFormat, "crlStatusList is malformed");
        }
        int[] generations = [ca.KeyGeneration, .. ca.Retired.Select(r => r.Generation)];
        foreach (CrlStatus status in statuses)
        {
            if (Names(status.Source, ca, generations.Select(g => (g, pki.Value.CrlUrl(ca.Name, g)))) is not int generation
                || await grains.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority(ca.Name)).GetCrlAsync(generation) is not { } current)
            {
                continue;
            }
            if (status.ThisUpdate is null || status.ThisUpdate.ToDateTime() < current.ThisUpdate.UtcDateTime.AddSeconds(-0.5))
            {
                return new InfoTypeAndValue(CmpObjectIdentifiers.id_it_crls, new DerSequence(CertificateList.GetInstance(current.Der)));
            }
        }
        return new InfoTypeAndValue(CmpObjectIdentifiers.id_it_crls);
    }

    /// <summary>The generation of the CA key whose CRL <paramref name="source"/> names (the issuer: the current key), or null.</summary>
    private static int? Names(CrlSource source, CertificateAuthorityKeys ca, IEnumerable<(int Generation, string Url)> crlUrls)
    {
        if (source.Issuer is { } issuer)
        {
            return issuer.GetNames().Any(n => n.TagNo == GeneralName.DirectoryName && X509Name.GetInstance(n.Name).Equivalent(ca.Ca.Certificate.Subject))
                ? ca.KeyGeneration : null;
        }
        if (source.Dpn?.Type != DistributionPointName.FullName)
        {
            return null;
        }
        GeneralName[] names = GeneralNames.GetInstance(source.Dpn.Name).GetNames();
        return crlUrls.Where(url => names.Any(n => n.TagNo == GeneralName.UniformResourceIdentifier && string.Equals(n.Name.ToString(), url.Url, StringComparison.Ordinal)))
            .Select(url => (int?)url.Generation).FirstOrDefault();
    }
}

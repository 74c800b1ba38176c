using System.ComponentModel.DataAnnotations;

namespace CmpCluster.Grains.Pki;

public enum CaKeyAlgorithm
{
    EcP256 = 0,
    EcP384 = 1,
    Rsa2048 = 2,
    Rsa3072 = 3,
}

/// <summary>Who signs OCSP responses (RFC 6960 §4.2.2.2).</summary>
public enum OcspSignerKind
{
    /// <summary>The CA's delegated OCSP signer (id-kp-OCSPSigning, id-pkix-ocsp-nocheck); the CA key stays for certificates and CRLs.</summary>
    Delegated = 0,
    /// <summary>The CA key itself.</summary>
    Ca = 1,
}

/// <summary>
/// The <c>Pki</c> section: the development PKI created on first start (root, issuing CA, CMP signer, OCSP signer) and
/// how revocation is published (CRLs, OCSP). Checked at start by <see cref="PkiOptionsValidator"/>, the ranges and patterns
/// through their attributes.
/// </summary>
public sealed class PkiOptions
{
    public const string Section = "Pki";

    /// <summary>Development passphrase; used when none is configured, with a loud warning.</summary>
    public const string DevelopmentPassphrase = "cmpcluster-development-only";

    /// <summary>
    /// Name of the node's default CA as aliases refer to it: always there, made on first start (files in <c>pki</c> under
    /// the data directory) and described by the subjects and settings below. Further CAs: <see cref="Cas"/>.
    /// </summary>
    [Required, RegularExpression("^[A-Za-z0-9_-]{1,64}$")]
    public string CaName { get; set; } = "issuing";

    /// <summary>Key algorithm of the keys made when the PKI folder is created (first start only; existing keys are kept).</summary>
    public CaKeyAlgorithm KeyAlgorithm { get; set; } = CaKeyAlgorithm.EcP256;

    /// <summary>
    /// The CA's CMP RA authentication secret (EJBCA's CMP documentation: "Using one authentication secret per CA"): RA-mode aliases of this
    /// CA whose HMAC module has no secret of their own use it. Set it through <c>Pki__CmpRaSecret</c>. Never logged.
    /// </summary>
    public string? CmpRaSecret { get; set; }

    /// <summary>
    /// Warn in the log when a CA, root, CMP-signer or OCSP-signer certificate ends within this many days (checked at start
    /// and twice a day; the metric <c>cmp.ca.certificate.expiry</c> carries the time left all along).
    /// </summary>
    [Range(1, 3650)]
    public int ExpiryWarningDays { get; set; } = 90;

    /// <summary>Encrypts the key files (PKCS#8, AES-256-CBC, PBKDF2-SHA256) and seals stored enrollment codes. Set it through
    /// <c>Pki__Passphrase</c>; unset, a development passphrase is used and the log warns loudly.</summary>
    public string? Passphrase { get; set; }

    /// <summary>Subject DN of the root CA made at first start.</summary>
    [Required]
    public string RootSubject { get; set; } = "CN=CmpCluster Root CA,O=CmpCluster";

    /// <summary>Subject DN of the issuing CA made at first start.</summary>
    [Required]
    public string IssuingSubject { get; set; } = "CN=CmpCluster Issuing CA,O=CmpCluster";

    /// <summary>Subject DN of the CMP signer (signs CMP responses) made at first start.</summary>
    [Required]
    public string CmpSignerSubject { get; set; } = "CN=CmpCluster CMP Signer,O=CmpCluster";

    /// <summary>Subject DN of the delegated OCSP signer made at first start (or added to an older PKI folder).</summary>
    [Required]
    public string OcspSignerSubject { get; set; } = "CN=CmpCluster OCSP Signer,O=CmpCluster";

    /// <summary>Validity of the root CA certificate made at first start.</summary>
    [Range(1, 50)]
    public int RootValidityYears { get; set; } = 20;

    /// <summary>Validity of the issuing CA certificate made at first start.</summary>
    [Range(1, 30)]
    public int IssuingValidityYears { get; set; } = 10;

    /// <summary>Validity of the CMP signer and of the delegated OCSP signer.</summary>
    [Range(1, 10)]
    public int CmpSignerValidityYears { get; set; } = 2;

    /// <summary>
    /// Where relying parties reach this cluster (absolute http/https URL, a trailing slash is ignored): issued
    /// certificates point to <c>{PublicBaseUrl}/crl/{ca}.crl</c> (<c>/crl/{ca}.k{n}.crl</c> after the n-th renewal with a new
    /// key) and <c>{PublicBaseUrl}/ocsp</c>.
    /// </summary>
    public string PublicBaseUrl { get; set; } = "http://127.0.0.1:8080";

    public CrlOptions Crl { get; set; } = new();

    public OcspOptions Ocsp { get; set; } = new();

    /// <summary>A root rollover announced through genm id-it-rootCaCert (RFC 9483 §4.3.2); empty: none.</summary>
    public RootCaUpdateOptions RootCaUpdate { get; set; } = new();

    /// <summary>
    /// PKCS#11 tokens (HSMs) that hold CA keys, by a name of your choice that <c>Pki:CaKeys:{ca}:Token</c> refers to;
    /// empty: none. README.md, "Keys in an HSM (PKCS#11)", shows a SoftHSM2 token set up for a CA.
    /// </summary>
    public Dictionary<string, Pkcs11TokenOptions> Tokens { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Where a CA's keys live, by CA name. A CA without an entry keeps its keys in the development PKI folder (encrypted
    /// files under the data directory, made at first start); a CA with one signs on a PKCS#11 token, its certificates read
    /// from the files named here, and nothing is created.
    /// </summary>
    public Dictionary<string, CaKeyOptions> CaKeys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Further CAs of this node, by name, besides the one named by <see cref="CaName"/> (which the settings above describe
    /// and which is always there). Each keeps its keys in its own development PKI folder (<c>pki-{name}</c> under the data
    /// directory, made at first start) unless <c>Pki:CaKeys:{name}</c> puts them on a PKCS#11 token. Read at start only:
    /// adding, changing or removing a CA takes a restart of every silo.
    /// </summary>
    public Dictionary<string, CaDefinitionOptions> Cas { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Certificate profiles the CA named by <see cref="CaName"/> issues with; unset: every profile.</summary>
    public string[]? AllowedCertificateProfiles { get; set; }

    /// <summary>Every CA of this node: the one named by <see cref="CaName"/> first, then each of <see cref="Cas"/>.</summary>
    public IEnumerable<CaDefinition> Definitions()
    {
        yield return new CaDefinition(CaName, Section, DevelopmentPki.FolderName, RootSubject, IssuingSubject, CmpSignerSubject,
            OcspSignerSubject, KeyAlgorithm, CmpRaSecret, RootCaUpdate, AllowedCertificateProfiles, Crl: Crl, Ocsp: Ocsp);
        foreach ((string name, CaDefinitionOptions ca) in Cas)
        {
            yield return new CaDefinition(name, $"{Section}:Cas:{name}", DevelopmentPki.FolderName + "-" + name,
                ca.RootSubject ?? $"CN=CmpCluster {name} Root CA,O=CmpCluster",
                ca.IssuingSubject ?? $"CN=CmpCluster {name} Issuing CA,O=CmpCluster",
                ca.CmpSignerSubject ?? $"CN=CmpCluster {name} CMP Signer,O=CmpCluster",
                ca.OcspSignerSubject ?? $"CN=CmpCluster {name} OCSP Signer,O=CmpCluster",
                ca.KeyAlgorithm ?? KeyAlgorithm, ca.CmpRaSecret ?? CmpRaSecret, ca.RootCaUpdate, ca.AllowedCertificateProfiles,
                string.IsNullOrEmpty(ca.IssuedBy) ? null : ca.IssuedBy, ca.Crl ?? Crl, ca.Ocsp ?? Ocsp);
        }
    }

    /// <summary>
    /// The CMP RA secret of the CA an alias issues from: its own (<c>Pki:Cas:{name}:CmpRaSecret</c>), else <see cref="CmpRaSecret"/>.
    /// A KeyID alias names the CA through the request's senderKID (<paramref name="senderKid"/>).
    /// </summary>
    public string? CmpRaSecretOf(string aliasCa, byte[]? senderKid)
    {
        string? name = aliasCa != Protocol.Configuration.CmpAliasOptions.KeyId ? aliasCa : senderKid is null ? null : System.Text.Encoding.UTF8.GetString(senderKid);
        return (name is null ? null : Definition(name)?.CmpRaSecret) ?? CmpRaSecret;
    }

    /// <summary>The definition of the CA named <paramref name="name"/>, or null.</summary>
    public CaDefinition? Definition(string name) => Definitions().FirstOrDefault(d => d.Name == name);

    /// <summary>The CRL schedule of the CA <paramref name="ca"/>: its own (<c>Pki:Cas:{name}:Crl</c>) or <see cref="Crl"/>.</summary>
    public CrlOptions CrlOf(string ca) => Definition(ca)?.Crl ?? Crl;

    /// <summary>The OCSP settings of the CA <paramref name="ca"/>: its own (<c>Pki:Cas:{name}:Ocsp</c>) or <see cref="Ocsp"/>.</summary>
    public OcspOptions OcspOf(string ca) => Definition(ca)?.Ocsp ?? Ocsp;

    /// <summary><see cref="PublicBaseUrl"/> without a trailing slash.</summary>
    public string BaseUrl => PublicBaseUrl.TrimEnd('/');

    /// <summary>Where the CRL of a CA's key is published (the distribution point in the certificates that key signs, RFC 5280
    /// §4.2.1.13): <c>/crl/{ca}.crl</c> for its first key, <c>/crl/{ca}.k{n}.crl</c> after the n-th renewal with a new key.</summary>
    public string CrlUrl(string ca, int keyGeneration = 0) => $"{BaseUrl}/crl/{Uri.EscapeDataString(Contracts.CrlNames.Of(ca, keyGeneration))}.crl";
}

/// <summary>
/// <c>Pki:Cas:{name}</c>: a further CA of this node (the EJBCA CMP documentation's 3GPP example issues from two CA
/// hierarchies, one per alias). The name, 1-64 letters, digits, '-' or '_', is how aliases (<c>Cmp:Aliases:{alias}:Ca</c>),
/// a KeyID senderKID, the CRL URL and the admin API refer to it. Unset subjects are made from the name.
/// </summary>
public sealed class CaDefinitionOptions
{
    /// <summary>Subject DN of the root CA made at first start; unset: <c>CN=CmpCluster {name} Root CA,O=CmpCluster</c>.</summary>
    public string? RootSubject { get; set; }

    /// <summary>Subject DN of the issuing CA made at first start; unset: <c>CN=CmpCluster {name} Issuing CA,O=CmpCluster</c>.
    /// Every CA of a node needs its own: certificates, CRLs and OCSP requests name their CA by this DN (RFC 5280 §4.1.2.4).</summary>
    public string? IssuingSubject { get; set; }

    /// <summary>Subject DN of the CMP signer made at first start; unset: <c>CN=CmpCluster {name} CMP Signer,O=CmpCluster</c>.</summary>
    public string? CmpSignerSubject { get; set; }

    /// <summary>Subject DN of the OCSP signer made at first start; unset: <c>CN=CmpCluster {name} OCSP Signer,O=CmpCluster</c>.</summary>
    public string? OcspSignerSubject { get; set; }

    /// <summary>Key algorithm of the keys made at first start; unset: <c>Pki:KeyAlgorithm</c>.</summary>
    public CaKeyAlgorithm? KeyAlgorithm { get; set; }

    /// <summary>This CA's CMP RA authentication secret (EJBCA's CMP documentation: "Using one authentication secret per CA");
    /// unset: <c>Pki:CmpRaSecret</c>. Set it through <c>Pki__Cas__{name}__CmpRaSecret</c>. Never logged.</summary>
    public string? CmpRaSecret { get; set; }

    /// <summary>A rollover of this CA's root announced through genm id-it-rootCaCert (RFC 9483 §4.3.2); empty: none.</summary>
    public RootCaUpdateOptions RootCaUpdate { get; set; } = new();

    /// <summary>Certificate profiles this CA issues with; unset: every profile.</summary>
    public string[]? AllowedCertificateProfiles { get; set; }

    /// <summary>
    /// Development bootstrap of an issuing CA under an existing root: the name of another CA of this node whose root key is
    /// still in its development PKI folder (<c>root-ca.key.pem</c>); at first start that root certifies this CA instead of
    /// a new root of its own (<see cref="RootSubject"/> is then unused). Unset: a new root.
    /// </summary>
    public string? IssuedBy { get; set; }

    /// <summary>This CA's CRL schedule (validity, renewal, debounce); unset: <c>Pki:Crl</c>. Given, it replaces that section whole.</summary>
    public CrlOptions? Crl { get; set; }

    /// <summary>How this CA's OCSP answers are signed and how long they hold; unset: <c>Pki:Ocsp</c>. <c>MaxRequestEntries</c>
    /// stays the node's (<c>Pki:Ocsp</c>): a request is read before its CA is known.</summary>
    public OcspOptions? Ocsp { get; set; }
}

/// <summary>One CA of the node as its settings describe it, the default CA and each of <c>Pki:Cas</c> alike.</summary>
/// <param name="Setting">Where it is configured (<c>Pki</c> or <c>Pki:Cas:{name}</c>), for messages.</param>
/// <param name="Folder">Its development PKI folder under the data directory (when its keys are not on a token).</param>
public sealed record CaDefinition(string Name, string Setting, string Folder, string RootSubject, string IssuingSubject,
    string CmpSignerSubject, string OcspSignerSubject, CaKeyAlgorithm KeyAlgorithm, string? CmpRaSecret,
    RootCaUpdateOptions RootCaUpdate, string[]? AllowedCertificateProfiles, string? IssuedBy = null, CrlOptions? Crl = null, OcspOptions? Ocsp = null)
{
    /// <summary>Whether this CA issues with the certificate profile <paramref name="profile"/>.</summary>
    public bool Allows(string profile) => AllowedCertificateProfiles is null || AllowedCertificateProfiles.Contains(profile, StringComparer.Ordinal);
}

/// <summary><c>Pki:Crl</c>: when CRLs are issued (RFC 5280 §5).</summary>
public sealed class CrlOptions
{
    /// <summary>nextUpdate − thisUpdate of every CRL (RFC 5280 §5.1.2.5).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "366.00:00:00")]
    public TimeSpan Validity { get; set; } = TimeSpan.FromDays(1);

    /// <summary>A new CRL is issued once nextUpdate is this close; must be shorter than <see cref="Validity"/>.</summary>
    public TimeSpan RenewBefore { get; set; } = TimeSpan.FromHours(6);

    /// <summary>Delay after a revocation before the new CRL, so a burst of revocations makes one CRL.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan Debounce { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Period of the durable reminder that renews the CRL and catches revocations a crash left unpublished. At least
    /// 1 second; Orleans' minimum reminder period is lowered to match when this is below it.
    /// </summary>
    public TimeSpan CheckPeriod { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary><c>Pki:Ocsp</c>: the OCSP responder (RFC 6960).</summary>
public sealed class OcspOptions
{
    /// <summary>Who signs OCSP responses: the delegated OCSP signer (default) or the CA key.</summary>
    public OcspSignerKind Signer { get; set; } = OcspSignerKind.Delegated;

    /// <summary>nextUpdate of each single response = thisUpdate + this (RFC 6960 §4.2.2.1); null: nextUpdate is omitted.</summary>
    public TimeSpan? ResponseValidity { get; set; }

    /// <summary>Most CertIDs in one request; more → malformedRequest.</summary>
    [Range(1, 1000)]
    public int MaxRequestEntries { get; set; } = 20;
}

/// <summary><c>Pki:Tokens:{name}</c>: a PKCS#11 token (PKCS#11 v2.40 base specification §2), found by its label.</summary>
public sealed class Pkcs11TokenOptions
{
    /// <summary>Path of the PKCS#11 library (the module), e.g. <c>/usr/lib/softhsm/libsofthsm2.so</c>.</summary>
    [Required]
    public string Library { get; set; } = "";

    /// <summary>The token's label (CK_TOKEN_INFO.label), as given to <c>softhsm2-util --init-token --label</c>.</summary>
    [Required]
    public string TokenLabel { get; set; } = "";

    /// <summary>
    /// The user PIN (CKU_USER). Set it through the environment, <c>Pki__Tokens__{name}__Pin</c>, rather than a settings
    /// file. Never logged, never in a message.
    /// </summary>
    public string? Pin { get; set; }

    /// <summary>
    /// Sessions kept open to the token, each signing one thing at a time (PKCS#11 v2.40 §5.6: a session runs one
    /// operation at a time), so one CA is not serialized; unset: the number of processors of this silo.
    /// </summary>
    [Range(1, 256)]
    public int? Sessions { get; set; }
}

/// <summary><c>Pki:CaKeys:{ca}</c>: a CA whose keys are on a PKCS#11 token, with the certificates that go with them.</summary>
public sealed class CaKeyOptions
{
    /// <summary>Name of the token in <c>Pki:Tokens</c> that holds the three keys.</summary>
    [Required]
    public string Token { get; set; } = "";

    /// <summary>PEM file of the root CA certificate; the CA certificate must verify under it.</summary>
    [Required]
    public string RootCertificate { get; set; } = "";

    /// <summary>The CA key: signs certificates and CRLs; its certificate must be issued by the root.</summary>
    public TokenKeyOptions Ca { get; set; } = new();

    /// <summary>The CMP signer key: signs CMP responses (RFC 9483 §3.3); its certificate must be issued by the CA.</summary>
    public TokenKeyOptions CmpSigner { get; set; } = new();

    /// <summary>The delegated OCSP signer key (RFC 6960 §4.2.2.2); its certificate must be issued by the CA.</summary>
    public TokenKeyOptions OcspSigner { get; set; } = new();

    /// <summary>
    /// Label of a generic secret key on the same token (CKK_GENERIC_SECRET, CKA_SIGN true) that the silos' proof to each
    /// other is derived from with CKM_SHA256_HMAC, since the CA key cannot be read (grains/Internal/SiloCallToken.cs).
    /// Every silo of a cluster must see the same key.
    /// </summary>
    [Required]
    public string SiloSecretLabel { get; set; } = "";
}

/// <summary>One private key on the token and its certificate.</summary>
public sealed class TokenKeyOptions
{
    /// <summary>CKA_LABEL of the private key on the token (<c>pkcs11-tool --keypairgen --label</c>).</summary>
    [Required]
    public string KeyLabel { get; set; } = "";

    /// <summary>PEM file of the key's certificate; its public key must be the key's.</summary>
    [Required]
    public string Certificate { get; set; } = "";
}

using System.ComponentModel.DataAnnotations;

namespace CmpCluster.Grains.Pki;

public enum CaKeyAlgorithm
{
    EcP256 = 0,
    EcP384 = 1,
    Rsa2048 = 2,
    Rsa3072 = 3,
}

/// <summary>The <c>Pki</c> section: the development PKI created on first start (root, issuing CA, CMP signer).</summary>
public sealed class PkiOptions
{
    public const string Section = "Pki";

    /// <summary>Development passphrase; used when none is configured, with a loud warning.</summary>
    public const string DevelopmentPassphrase = "cmpcluster-development-only";

    /// <summary>Name of the issuing CA as aliases refer to it.</summary>
    [Required, RegularExpression("^[A-Za-z0-9_-]{1,64}$")]
    public string CaName { get; set; } = "issuing";

    public CaKeyAlgorithm KeyAlgorithm { get; set; } = CaKeyAlgorithm.EcP256;

    /// <summary>
    /// The CA's CMP RA authentication secret (seed: "Using one authentication secret per CA"): RA-mode aliases of this
    /// CA whose HMAC module has no secret of their own use it. Set it through <c>Pki__CmpRaSecret</c>. Never logged.
    /// </summary>
    public string? CmpRaSecret { get; set; }

    /// <summary>Encrypts the key files (PKCS#8, AES-256-CBC, PBKDF2-SHA256). Set it through <c>Pki__Passphrase</c>.</summary>
    public string? Passphrase { get; set; }

    [Required]
    public string RootSubject { get; set; } = "CN=CmpCluster Root CA,O=CmpCluster";

    [Required]
    public string IssuingSubject { get; set; } = "CN=CmpCluster Issuing CA,O=CmpCluster";

    [Required]
    public string CmpSignerSubject { get; set; } = "CN=CmpCluster CMP Signer,O=CmpCluster";

    [Range(1, 50)]
    public int RootValidityYears { get; set; } = 20;

    [Range(1, 30)]
    public int IssuingValidityYears { get; set; } = 10;

    [Range(1, 10)]
    public int CmpSignerValidityYears { get; set; } = 2;
}

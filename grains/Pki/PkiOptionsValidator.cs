using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Options;

namespace CmpCluster.Grains.Pki;

/// <summary>Start-up validation of the Pki section: its data annotations (<see cref="OptionAnnotations"/>) and the checks that
/// span settings; each failure names its key.</summary>
public sealed class PkiOptionsValidator : IValidateOptions<PkiOptions>
{
    public ValidateOptionsResult Validate(string? name, PkiOptions options)
    {
        var errors = new List<string>();
        OptionAnnotations.Validate(options, PkiOptions.Section, errors);
        if (!Uri.TryCreate(options.PublicBaseUrl, UriKind.Absolute, out Uri? url)
            || url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.Fragment))
        {
            errors.Add("Pki:PublicBaseUrl must be an absolute http or https URL without query or fragment, e.g. http://ca.example:8080");
        }
        CrlOptions crl = options.Crl;
        if (crl.RenewBefore <= TimeSpan.Zero || crl.RenewBefore >= crl.Validity) errors.Add("Pki:Crl:RenewBefore must be positive and shorter than Pki:Crl:Validity");
        if (crl.CheckPeriod < TimeSpan.FromSeconds(1)) errors.Add("Pki:Crl:CheckPeriod must be at least 1 second");
        // A configured root rollover is read at the first genm: a missing file is an operator's mistake to report at start.
        RootCaUpdateOptions rollover = options.RootCaUpdate;
        if (string.IsNullOrEmpty(rollover.NewWithNew) && (!string.IsNullOrEmpty(rollover.NewWithOld) || !string.IsNullOrEmpty(rollover.OldWithNew)))
        {
            errors.Add("Pki:RootCaUpdate:NewWithNew is required when NewWithOld or OldWithNew is set");
        }
        foreach ((string key, string? file) in new[] { ("NewWithNew", rollover.NewWithNew), ("NewWithOld", rollover.NewWithOld), ("OldWithNew", rollover.OldWithNew) })
        {
            if (!string.IsNullOrEmpty(file) && !File.Exists(file)) errors.Add($"Pki:RootCaUpdate:{key}: file '{file}' does not exist");
        }
        if (!Enum.IsDefined(options.Ocsp.Signer)) errors.Add("Pki:Ocsp:Signer must be Delegated or Ca");
        if (options.Ocsp.ResponseValidity is { } validity && validity <= TimeSpan.Zero) errors.Add("Pki:Ocsp:ResponseValidity must be positive (or unset)");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

using System.Collections.Concurrent;
using System.Reflection;
using CmpCluster.Contracts;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Policy;
using Microsoft.Extensions.Options;

namespace CmpCluster.Grains.Policy;

/// <summary>
/// The request-handler plug-ins of this silo (<see cref="CmpOptions.Policies"/>), created once each, and the one place that
/// asks them about an enrollment with the configured timeout.
/// </summary>
public sealed class EnrollmentPolicies(IOptionsMonitor<CmpOptions> options)
{
    private readonly ConcurrentDictionary<string, IEnrollmentPolicy> _created = new(StringComparer.Ordinal);

    /// <summary>
    /// Asks the alias's plug-ins in order; the first verdict that refuses or defers decides, and adjustments add up (a later
    /// one's field wins). A plug-in that does not decide within
    /// Cmp:PolicyTimeout makes the answer systemUnavail (the client may retry); nothing is issued either way.
    /// </summary>
    public async Task<PolicyVerdict> EvaluateAsync(CmpAliasOptions alias, EnrollmentContext context)
    {
        CmpOptions settings = options.CurrentValue;
        TemplateAdjustment? adjustment = null;
        foreach (string name in alias.EnrollmentPolicies ?? [])
        {
            IEnrollmentPolicy policy = _created.GetOrAdd(name, n => Create(n, settings.Policies[n]));
            using var cancellation = new CancellationTokenSource(settings.PolicyTimeout);
            PolicyVerdict verdict;
            try
            {
                verdict = await policy.EvaluateAsync(context, cancellation.Token).WaitAsync(settings.PolicyTimeout);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                throw new CmpFailureException(PkiFailureInfo.SystemUnavail, $"the enrollment policy '{name}' did not decide in time; retry later");
            }
            switch (verdict)
            {
                case PolicyVerdict.Adjusted adjusted:
                    adjustment = adjustment is null ? adjusted.Changes : adjustment.Then(adjusted.Changes);
                    break;
                case PolicyVerdict.Allowed:
                    break;
                default:
                    return verdict;
            }
        }
        return adjustment is null ? PolicyVerdict.Allow : PolicyVerdict.Adjust(adjustment);
    }

    /// <summary>A plug-in from its settings; throws <see cref="InvalidOperationException"/> naming what is wrong (start-up validation calls it).</summary>
    public static IEnrollmentPolicy Create(string name, EnrollmentPolicyOptions settings)
    {
        switch (settings.Kind)
        {
            case "DeviceInventory":
                return settings.InventoryFile is { } file && File.Exists(file)
                    ? new DeviceInventoryPolicy(file, settings.DeferUnknown)
                    : throw new InvalidOperationException($"Cmp:Policies:{name}:InventoryFile '{settings.InventoryFile}' does not exist");
            case "Assembly":
                if (settings.AssemblyPath is not { } path || !File.Exists(path))
                {
                    throw new InvalidOperationException($"Cmp:Policies:{name}:AssemblyPath '{settings.AssemblyPath}' does not exist");
                }
                Type type = Assembly.LoadFrom(path).GetType(settings.TypeName ?? "", throwOnError: false) is { } found && typeof(IEnrollmentPolicy).IsAssignableFrom(found)
                    ? found
                    : throw new InvalidOperationException($"Cmp:Policies:{name}:TypeName '{settings.TypeName}' is not an IEnrollmentPolicy in {path}");
                IReadOnlyDictionary<string, string?> values = settings.Settings;
                return (IEnrollmentPolicy)(type.GetConstructor([typeof(IReadOnlyDictionary<string, string?>)]) is { } withSettings
                    ? withSettings.Invoke([values])
                    : Activator.CreateInstance(type)
                        ?? throw new InvalidOperationException($"Cmp:Policies:{name}:TypeName '{settings.TypeName}' cannot be created"));
            default:
                throw new InvalidOperationException($"Cmp:Policies:{name}:Kind must be DeviceInventory or Assembly");
        }
    }
}

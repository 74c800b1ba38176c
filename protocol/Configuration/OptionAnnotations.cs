using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;

namespace CmpCluster.Protocol.Configuration;

/// <summary>
/// Checks the data annotations of an options object (<see cref="RangeAttribute"/>, <see cref="RequiredAttribute"/>,
/// <see cref="RegularExpressionAttribute"/>) with messages that name the configuration key, e.g.
/// <c>Cmp:Limits:MaxMessageBytes must be 1024 .. 16777216</c>. A setting's range is written once, as an attribute on its
/// property: each section's validator calls this at start, and docs/CONFIGURATION.md is generated from the same attributes.
/// Nested options objects are checked under their key (<c>Pki:Crl:Validity</c>), and so are the values of dictionaries of
/// them (<c>Cmp:Profiles:default:ValidityDays</c>). (.NET's own <c>ValidateDataAnnotations</c> names only the property and
/// does not look into nested objects.)
/// </summary>
public static class OptionAnnotations
{
    /// <summary>Adds one message per violated annotation of <paramref name="options"/> (and of the options objects it holds).</summary>
    public static void Validate(object? options, string key, List<string> errors)
    {
        if (options is null)
        {
            return;
        }
        foreach (PropertyInfo property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || property.GetMethod is null)
            {
                continue;
            }
            string name = $"{key}:{property.Name}";
            object? value = property.GetValue(options);
            foreach (ValidationAttribute attribute in property.GetCustomAttributes<ValidationAttribute>())
            {
                if (!attribute.IsValid(value))
                {
                    errors.Add(Message(name, attribute));
                }
            }
            if (value is IDictionary dictionary && IsOptionsType(property.PropertyType.GetGenericArguments().LastOrDefault()))
            {
                foreach (DictionaryEntry entry in dictionary)
                {
                    Validate(entry.Value, $"{name}:{entry.Key}", errors);
                }
            }
            else if (IsOptionsType(property.PropertyType))
            {
                Validate(value, name, errors);
            }
        }
    }

    /// <summary>A range as docs/CONFIGURATION.md and the messages write it: <c>1024 .. 16777216</c>, <c>00:00:01 .. 01:00:00</c>.</summary>
    public static string Describe(RangeAttribute range) => $"{Bound(range.Minimum)} .. {Bound(range.Maximum)}";

    /// <summary>Options types of this project: classes in a CmpCluster namespace (not strings, collections or enums).</summary>
    public static bool IsOptionsType(Type? type) =>
        type is { IsClass: true } && type != typeof(string) && type.Namespace?.StartsWith("CmpCluster", StringComparison.Ordinal) == true
        && !typeof(IEnumerable).IsAssignableFrom(type);

    private static string Message(string name, ValidationAttribute attribute) => attribute switch
    {
        RangeAttribute range => $"{name} must be {Describe(range)}",
        RequiredAttribute => $"{name} is required",
        RegularExpressionAttribute pattern => $"{name} must match {pattern.Pattern}",
        _ => $"{name}: {attribute.FormatErrorMessage(name)}",
    };

    private static string Bound(object bound) => Convert.ToString(bound, CultureInfo.InvariantCulture) ?? "";
}

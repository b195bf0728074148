// The cabinet's Russian labels of the information blocks' fields (docs/api.md; the API's JSON
// keys are English). Fields are shown in this order; a field not listed here is shown under
// its key, so nothing the API adds is hidden.

export const FIELD_LABELS = {
  energy_object: [
    ["address", "Адрес энергообъекта"],
    ["name", "Наименование энергообъекта"],
    ["number", "Номер энергообъекта"],
    ["phone_1", "Телефон 1"],
    ["phone_2", "Телефон 2"],
    ["email", "Электронный адрес"],
    ["time_zone", "Часовой пояс"],
  ],
  connection_point: [
    ["name", "Наименование точки подключения"],
    ["number", "Номер точки подключения"],
    ["voltage_kv", "Уровень напряжения, кВ"],
    ["max_power_kw", "Максимальная мощность, кВт"],
    ["grid_company", "Сетевая организация"],
  ],
  metering_point: [
    ["name", "Наименование точки учёта"],
    ["number", "Номер точки учёта"],
    ["ats_code", "Код точки измерения (АТС)"],
  ],
  identification: [
    ["meter_id", "Идентификатор ИПУ в системе учёта"],
    ["mac_address", "Мас-адрес"],
    ["model", "Модель"],
    ["serial_number", "Серийный(заводской) номер"],
  ],
  life_cycle: [
    ["commissioned_on", "Дата ввода в эксплуатацию"],
    ["isu_connected_on", "Дата подключения к ИСУ"],
    ["registered", "Состояние в реестре"],
  ],
  metrology: [
    ["verified_on", "Дата и время последней проведённой поверки"],
    ["next_verification_on", "Дата и время следующей поверки"],
  ],
  model_passport: [
    ["model", "Модель"],
    ["accuracy_class", "Класс точности"],
    ["rated_voltage_v", "Номинальное напряжение, В"],
    ["rated_current_a", "Номинальный (максимальный) ток, А"],
    ["phases", "Количество фаз"],
  ],
  installation: [
    ["installed_on", "Дата установки"],
    ["install_place", "Место установки"],
    ["metering_point", "Номер точки учёта"],
    ["metering_point_name", "Наименование точки учёта"],
    ["ats_code", "Код точки измерения (АТС)"],
  ],
  characteristics: [
    ["capacity", "Значность"],
    ["ct_ratio", "Коэффициент трансформации ТТ"],
    ["vt_ratio", "Коэффициент трансформации ТН"],
    ["ratio", "Расчётный коэффициент"],
    ["time_zone", "Часовой пояс"],
  ],
  consumer: [
    ["name", "Наименование потребителя"],
    ["inn", "ИНН потребителя"],
  ],
  contract: [
    ["number", "Номер договора"],
    ["name", "Наименование договора"],
    ["signed_on", "Дата заключения договора"],
    ["zone_schedule", "Тарифное расписание"],
    ["energy_object", "Номер энергообъекта"],
    ["energy_object_name", "Наименование энергообъекта"],
  ],
};

export const ZONE_SCHEDULES = {
  single: "однотарифное",
  "two-zone": "двухзонное (день, ночь)",
  "three-zone": "трёхзонное (пик, ночь, полупик)",
  custom: "по договору",
};

/** The «Показания» rows, in the seed's order (R-, R+, A-, A+), and the archive types. */
export const ROW_ORDER = ["R-", "R+", "A-", "A+"];

export const ARCHIVE_TYPES = [
  ["period_end", "На конец месяца"],
  ["day_end", "На конец суток"],
  ["current", "Текущие показания"],
  ["interval", "Расход за интервал"],
];

export const QUALITY_NOTES = {
  incomplete: "Данные неполные: часть интервалов ещё не считана или отсутствует.",
  estimated: "Среди данных есть расчётные (оценочные) значения.",
};
